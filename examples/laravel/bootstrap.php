<?php

// What public/index.php and trigger.php share, in place of the Laravel framework: the .env, Laravel's
// env() helper, config/broadcasting.php, the Pusher SDK that both the pusher and the reverb broadcaster
// use, and the orders of a made-up shop.

require_once __DIR__ . '/lib/Pusher.php';

/**
 * Loads `$file` as Laravel does (vlucas/phpdotenv): NAME=value lines, quotes stripped, "${NAME}"
 * expanded; a variable already in the environment keeps its value.
 */
function load_env(string $file): void
{
    foreach (file($file, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) as $line) {
        if (!preg_match('/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/', $line, $m) || getenv($m[1]) !== false) {
            continue;
        }
        $value = preg_replace('/^"(.*)"$|^\'(.*)\'$/', '$1$2', $m[2]);
        $value = preg_replace_callback('/\$\{(\w+)\}/', fn ($ref) => (string) getenv($ref[1]), $value);
        putenv("{$m[1]}=$value");
    }
}

/** Laravel's env(): the variable, "true", "false", "null" and "empty" as what they say; `$default` if unset. */
function env(string $key, mixed $default = null): mixed
{
    $value = getenv($key);
    if ($value === false) {
        return $default;
    }

    return match (strtolower($value)) {
        'true', '(true)' => true,
        'false', '(false)' => false,
        'null', '(null)' => null,
        'empty', '(empty)' => '',
        default => $value,
    };
}

load_env(__DIR__ . '/.env');

/**
 * The SDK for the default broadcast connection, made as Laravel's BroadcastManager makes it for the
 * pusher and the reverb driver: `new Pusher($key, $secret, $app_id, $options)`.
 */
function broadcaster(): Pusher
{
    $config = require __DIR__ . '/config/broadcasting.php';
    $connection = $config['connections'][$config['default']] ?? null;
    if (!in_array($connection['driver'] ?? null, ['pusher', 'reverb'], true)) {
        throw new RuntimeException("BROADCAST_CONNECTION={$config['default']}: use pusher or reverb");
    }

    return new Pusher($connection['key'], $connection['secret'], $connection['app_id'], $connection['options'] ?? []);
}

/** The shop's orders, as `Order::find($id)->toArray()` would give them. */
const ORDERS = [
    1 => ['id' => 1, 'user_id' => 1, 'item' => 'Espresso machine', 'status' => 'paid'],
    2 => ['id' => 2, 'user_id' => 2, 'item' => 'Coffee grinder', 'status' => 'paid'],
];
