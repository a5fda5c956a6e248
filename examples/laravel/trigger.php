<?php

// Ships an order: what `OrderShipped::dispatch($order)` sends through Laravel's pusher (or reverb)
// broadcaster, done by hand.
//
//   php examples/laravel/trigger.php [order id, default 1] [socket id to leave out, as ->toOthers()]
//
// In a Laravel app the event is a class, app/Events/OrderShipped.php:
//
//   class OrderShipped implements ShouldBroadcast
//   {
//       use Dispatchable, InteractsWithSockets, SerializesModels;
//
//       public function __construct(public Order $order) {}
//
//       public function broadcastOn(): array
//       {
//           return [new PrivateChannel('orders.'.$this->order->id)];
//       }
//   }

require __DIR__ . '/bootstrap.php';

$id = (int) ($argv[1] ?? 1);
if (!isset(ORDERS[$id])) {
    fwrite(STDERR, "no order $id (there are " . implode(', ', array_keys(ORDERS)) . ")\n");
    exit(2);
}
$order = array_merge(ORDERS[$id], ['status' => 'shipped', 'tracking_number' => 'HRLD' . random_int(100000, 999999)]);

// Laravel's BroadcastEvent: the event's name is its class unless it has broadcastAs(); its payload is
// its public properties (a model as toArray()), `socket` among them (InteractsWithSockets: the
// X-Socket-Id of the request that dispatched it, set by ->toOthers()).
$event = 'App\\Events\\OrderShipped';
$channels = ["private-orders.$id"]; // PrivateChannel('orders.1') is "private-orders.1"
$payload = ['order' => $order, 'socket' => $argv[2] ?? null];

// Laravel's PusherBroadcaster::broadcast(): the socket leaves the payload and, when set, goes to Herald
// as socket_id, so that connection does not get the event.
$socket = $payload['socket'];
unset($payload['socket']);
$parameters = $socket !== null ? ['socket_id' => $socket] : [];

try {
    broadcaster()->trigger($channels, $event, $payload, $parameters);
} catch (Exception $e) {
    fwrite(STDERR, "broadcast failed: {$e->getMessage()}\n");
    exit(1);
}
echo "$event on {$channels[0]}: " . json_encode($payload) . "\n";
