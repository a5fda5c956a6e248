// resources/js/echo.js as `php artisan install:broadcasting --pusher` writes it, for Pusher's own
// servers (key, cluster, forceTLS: true), with the lines that point it at Herald instead added below
// the cluster: the host, port and scheme of the VITE_PUSHER_* lines of .env.
import Echo from 'laravel-echo';

import Pusher from 'pusher-js';

window.Pusher = Pusher;

window.Echo = new Echo({
  broadcaster: 'pusher',
  key: import.meta.env.VITE_PUSHER_APP_KEY,
  cluster: import.meta.env.VITE_PUSHER_APP_CLUSTER,
  // Added for Herald (forceTLS replaces the stub's `forceTLS: true`):
  wsHost: import.meta.env.VITE_PUSHER_HOST,
  wsPort: import.meta.env.VITE_PUSHER_PORT ?? 80,
  wssPort: import.meta.env.VITE_PUSHER_PORT ?? 443,
  forceTLS: (import.meta.env.VITE_PUSHER_SCHEME ?? 'https') === 'https',
  enabledTransports: ['ws', 'wss'],
});
