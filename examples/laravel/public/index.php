<?php

// The web side, run by PHP's built-in server with this file as its router:
//
//   php -S 127.0.0.1:8000 -t examples/laravel/public examples/laravel/public/index.php
//
// A Laravel app has all of it already: the page (a Blade view behind a route), /broadcasting/auth
// (Broadcast::routes(), with the channel rules of routes/channels.php), and Vite serving
// resources/js with the VITE_ variables of .env.

require __DIR__ . '/../bootstrap.php';

/** The browser builds the page imports, from the repository's node_modules (Vite bundles them in an app). */
const VENDOR = [
    '/vendor/laravel-echo.js' => 'laravel-echo/dist/echo.js',
    '/vendor/pusher-js.js' => 'pusher-js/dist/web/pusher.min.js',
];

function respond(int $status, string $type, string $body): void
{
    http_response_code($status);
    header("Content-Type: $type");
    header('Cache-Control: no-store');
    echo $body;
}

function json_response(int $status, array $body): void
{
    respond($status, 'application/json', json_encode($body, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE));
}

/** The order's page; visiting it signs you in as user 1, as a login would. */
function order_page(): void
{
    session_start();
    $_SESSION['user_id'] = 1; // Auth::login($user)
    $_SESSION['_token'] ??= bin2hex(random_bytes(20)); // csrf_token()
    $userId = $_SESSION['user_id'];
    $csrfToken = $_SESSION['_token'];
    $orderId = (int) ($_GET['order'] ?? 1);
    // The page loads resources/js/echo.js as install:broadcasting writes it for the connection in use.
    $echoScript = env('BROADCAST_CONNECTION') === 'reverb' ? 'echo.js' : 'echo.pusher.js';
    ob_start();
    require __DIR__ . '/../resources/views/orders.php';
    respond(200, 'text/html; charset=utf-8', ob_get_clean());
}

/**
 * POST /broadcasting/auth, which Echo calls (form fields socket_id and channel_name) before it
 * subscribes to a private channel: Laravel checks the session and its CSRF token, finds the channel's
 * rule in routes/channels.php, and answers with the SDK's signature, or 403.
 */
function broadcasting_auth(): void
{
    session_start();
    // VerifyCsrfToken: Echo sends the page's csrf-token meta tag as X-CSRF-TOKEN.
    $token = $_SESSION['_token'] ?? null;
    if ($token === null || !hash_equals($token, $_SERVER['HTTP_X_CSRF_TOKEN'] ?? '')) {
        json_response(419, ['error' => 'CSRF token mismatch']);
        return;
    }
    $userId = $_SESSION['user_id'];
    $socketId = $_POST['socket_id'] ?? null;
    $channel = $_POST['channel_name'] ?? null;
    if (!is_string($socketId) || !is_string($channel)) {
        json_response(400, ['error' => 'socket_id and channel_name are required']);
        return;
    }

    // routes/channels.php:
    //   Broadcast::channel('orders.{orderId}', function (User $user, int $orderId) {
    //       return $user->id === Order::findOrNew($orderId)->user_id;
    //   });
    if (!preg_match('/\Aprivate-orders\.(\d{1,9})\z/', $channel, $m) || (ORDERS[(int) $m[1]]['user_id'] ?? null) !== $userId) {
        json_response(403, ['error' => "user $userId may not subscribe to $channel"]);
        return;
    }

    try {
        json_response(200, json_decode(broadcaster()->authorizeChannel($channel, $socketId), true));
    } catch (PusherException $e) {
        json_response(400, ['error' => $e->getMessage()]);
    } catch (RuntimeException $e) {
        json_response(500, ['error' => $e->getMessage()]);
    }
}

/**
 * A file of resources/js as Vite's dev server serves it: `import.meta.env.VITE_*` replaced by the
 * values of .env (Vite exposes only VITE_ variables to the browser).
 */
function script(string $path): void
{
    $file = __DIR__ . '/..' . $path;
    if (!preg_match('/\A\/resources\/js\/[\w.-]+\.js\z/', $path) || !is_file($file)) {
        json_response(404, ['error' => 'not found']);
        return;
    }
    $source = preg_replace_callback(
        '/import\.meta\.env\.(\w+)/',
        fn ($m) => str_starts_with($m[1], 'VITE_') && getenv($m[1]) !== false ? json_encode(getenv($m[1])) : 'undefined',
        file_get_contents($file)
    );
    respond(200, 'text/javascript; charset=utf-8', $source);
}

/** laravel-echo's ES module as it is; pusher-js's UMD build given a CommonJS `module` to fill, as bundlers do. */
function vendor(string $path): void
{
    $file = dirname(__DIR__, 3) . '/node_modules/' . VENDOR[$path];
    if (!is_file($file)) {
        json_response(404, ['error' => VENDOR[$path] . ' is not installed (npm install)']);
        return;
    }
    $source = file_get_contents($file);
    if ($path === '/vendor/pusher-js.js') {
        $source = "const module = { exports: {} }, exports = module.exports;\n$source\nexport default module.exports;\n";
    }
    respond(200, 'text/javascript; charset=utf-8', $source);
}

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?: '/';
$route = $_SERVER['REQUEST_METHOD'] . ' ' . $path;
match (true) {
    $route === 'GET /' => order_page(),
    $route === 'POST /broadcasting/auth' => broadcasting_auth(),
    str_starts_with($route, 'GET /resources/js/') => script($path),
    isset(VENDOR[$path]) && $_SERVER['REQUEST_METHOD'] === 'GET' => vendor($path),
    default => json_response(404, ['error' => 'not found']),
};
