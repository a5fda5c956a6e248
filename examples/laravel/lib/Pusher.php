<?php

/**
 * The part of pusher-http-php (`composer require pusher/pusher-php-server`, class Pusher\Pusher) that
 * Laravel's pusher and reverb broadcasters use: authorizeChannel() for /broadcasting/auth and trigger()
 * for broadcasting an event, signed the same way, so that this example runs with Debian's php-cli and
 * no Composer. A Laravel app uses the real SDK; nothing here needs changing for Herald.
 */
class Pusher
{
    private array $settings;

    /** As `new Pusher\Pusher($key, $secret, $app_id, $options)`, which Laravel's BroadcastManager calls. */
    public function __construct(string $auth_key, string $secret, string $app_id, array $options = [])
    {
        $useTLS = ($options['useTLS'] ?? false) === true;
        $this->settings = [
            'auth_key' => $auth_key,
            'secret' => $secret,
            'app_id' => $app_id,
            'scheme' => $options['scheme'] ?? ($useTLS ? 'https' : 'http'),
            'host' => preg_replace('/https?:\/\//', '', $options['host'] ?? 'api-' . ($options['cluster'] ?? 'mt1') . '.pusher.com', 1),
            'port' => $options['port'] ?? ($useTLS ? 443 : 80),
            'path' => $options['path'] ?? '',
            'timeout' => $options['timeout'] ?? 30,
        ];
    }

    /**
     * The answer to a private channel's auth request: `{"auth": "key:signature"}`, the signature an
     * HMAC-SHA256 of "socket_id:channel" (":channel_data" added for presence channels) with the secret.
     */
    public function authorizeChannel(string $channel, string $socket_id, ?string $custom_data = null): string
    {
        $this->validate_channel($channel);
        $this->validate_socket_id($socket_id);

        if ($custom_data) {
            $signature = hash_hmac('sha256', $socket_id . ':' . $channel . ':' . $custom_data, $this->settings['secret'], false);
        } else {
            $signature = hash_hmac('sha256', $socket_id . ':' . $channel, $this->settings['secret'], false);
        }

        $signature = ['auth' => $this->settings['auth_key'] . ':' . $signature];
        if ($custom_data) {
            $signature['channel_data'] = $custom_data;
        }

        return json_encode($signature, JSON_UNESCAPED_SLASHES);
    }

    /**
     * POSTs an event to /apps/{app_id}/events: `{"name", "data" (the payload as a JSON string),
     * "channels"}` and `$params` (`socket_id`: every connection but that one gets it).
     */
    public function trigger(array|string $channels, string $event, mixed $data, array $params = []): object
    {
        $channels = is_string($channels) ? [$channels] : $channels;
        if (count($channels) > 100) {
            throw new PusherException('An event can be triggered on a maximum of 100 channels in a single call.');
        }
        foreach ($channels as $channel) {
            $this->validate_channel($channel);
        }
        if (isset($params['socket_id'])) {
            $this->validate_socket_id($params['socket_id']);
        }

        $post_params = [];
        $post_params['name'] = $event;
        $post_params['data'] = json_encode($data, JSON_THROW_ON_ERROR);
        $post_params['channels'] = array_values($channels);

        return $this->post('/events', json_encode(array_merge($post_params, $params), JSON_THROW_ON_ERROR));
    }

    /**
     * The signed query of a request to the HTTP API: auth_key, auth_timestamp, auth_version=1.0 and the
     * request's own parameters (body_md5 for a POST) sorted by name, and auth_signature, the
     * HMAC-SHA256 of "METHOD\npath\nquery" with the secret.
     */
    public static function build_auth_query_params(
        string $auth_key,
        string $auth_secret,
        string $request_method,
        string $request_path,
        array $query_params = [],
        string $auth_version = '1.0',
        ?string $auth_timestamp = null
    ): array {
        $params = [];
        $params['auth_key'] = $auth_key;
        $params['auth_timestamp'] = (is_null($auth_timestamp) ? time() : $auth_timestamp);
        $params['auth_version'] = $auth_version;

        $params = array_merge($params, $query_params);
        ksort($params);

        $string_to_sign = "$request_method\n" . $request_path . "\n" . self::array_implode('=', '&', $params);

        $auth_signature = hash_hmac('sha256', $string_to_sign, $auth_secret, false);

        $params['auth_signature'] = $auth_signature;

        return $params;
    }

    /** "k1=v1&k2=v2", values unencoded, as the string to sign has them. */
    public static function array_implode(string $glue, string $separator, array $array): string
    {
        $string = [];
        foreach ($array as $key => $val) {
            if (is_array($val)) {
                $val = implode(',', $val);
            }
            $string[] = "{$key}{$glue}{$val}";
        }

        return implode($separator, $string);
    }

    /** POSTs `$body` to /apps/{app_id}`$path`, signed; the answer's JSON, or PusherException. */
    private function post(string $path, string $body): object
    {
        $path = $this->settings['path'] . '/apps/' . $this->settings['app_id'] . $path;
        $query = self::build_auth_query_params(
            $this->settings['auth_key'],
            $this->settings['secret'],
            'POST',
            $path,
            ['body_md5' => md5($body)]
        );
        $url = $this->settings['scheme'] . '://' . $this->settings['host'] . ':' . $this->settings['port']
            . $path . '?' . http_build_query($query);

        // The SDK sends it with Guzzle; PHP's own HTTP stream does here.
        $context = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => "Content-Type: application/json\r\n",
            'content' => $body,
            'timeout' => $this->settings['timeout'],
            'ignore_errors' => true, // an error's body too, to report it
        ]]);
        $answer = @file_get_contents($url, false, $context);
        if ($answer === false) {
            throw new PusherException("no answer from {$this->settings['host']}:{$this->settings['port']}");
        }
        $status = (int) explode(' ', $http_response_header[0])[1];
        if ($status !== 200) {
            throw new PusherException("HTTP $status: $answer");
        }

        return json_decode($answer, false, 512, JSON_THROW_ON_ERROR);
    }

    private function validate_channel(string $channel): void
    {
        if (!preg_match('/\A[-a-zA-Z0-9_=@,.;]+\z/', $channel)) {
            throw new PusherException('Invalid channel name ' . $channel);
        }
    }

    private function validate_socket_id(string $socket_id): void
    {
        if (!preg_match('/\A\d+\.\d+\z/', $socket_id)) {
            throw new PusherException('Invalid socket ID ' . $socket_id);
        }
    }
}

class PusherException extends Exception
{
}
