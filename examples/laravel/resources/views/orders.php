<?php /* In a Laravel app, resources/views/orders.blade.php ({{ $orderId }} there, <?= ?> here). */ ?>
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <!-- Echo sends this token with its auth requests (X-CSRF-TOKEN), which Laravel's web routes want. -->
  <meta name="csrf-token" content="<?= htmlspecialchars($csrfToken) ?>">
  <title>Order #<?= $orderId ?></title>
  <!-- Blade has @vite('resources/js/app.js') and Vite bundles the imports; here the browser finds
       them through an import map. -->
  <script type="importmap">
    { "imports": { "laravel-echo": "/vendor/laravel-echo.js", "pusher-js": "/vendor/pusher-js.js" } }
  </script>
  <style>
    body { font: 16px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 42rem; color: #1f2328; }
    code { background: #f0f1f3; padding: 0 .25rem; border-radius: 3px; }
    #status { padding: .5rem .75rem; border-radius: 4px; background: #eef3fd; }
    #status.error { background: #fdecea; color: #8a1c12; }
    .shipped { margin: .75rem 0; padding: .75rem; border-left: 4px solid #1a7f37; background: #e9f6ec; }
  </style>
</head>
<body>
  <h1>Order #<?= $orderId ?></h1>
  <p>Signed in as user <?= $userId ?>. The page listens on <code>private-orders.<?= $orderId ?></code>;
    <code>php examples/laravel/trigger.php <?= $orderId ?></code> ships the order.</p>
  <p id="status">Connecting…</p>
  <div id="events"></div>
  <script type="module">
    import '/resources/js/<?= $echoScript ?>';

    const orderId = <?= $orderId ?>;
    const status = document.getElementById('status');

    // Echo asks /broadcasting/auth before it subscribes to a private channel ("private-" is its own).
    window.Echo.private(`orders.${orderId}`)
      .subscribed(() => {
        status.textContent = `Listening on private-orders.${orderId} (socket ${window.Echo.socketId()})`;
      })
      .error((error) => {
        status.textContent = `Not allowed to listen on private-orders.${orderId} (HTTP ${error.status})`;
        status.className = 'error';
      })
      // The event's name is its class, App\Events\OrderShipped (or what broadcastAs() says); the dot
      // says "as it is": .listen('OrderShipped') is the same, Echo adding the App\Events namespace.
      .listen('.App\\Events\\OrderShipped', (e) => {
        console.log(JSON.stringify(e));
        const shipped = document.createElement('div');
        shipped.className = 'shipped';
        shipped.textContent = `Order #${e.order.id} (${e.order.item}) has shipped: tracking number ${e.order.tracking_number}`;
        document.getElementById('events').append(shipped);
      });
  </script>
</body>
</html>
