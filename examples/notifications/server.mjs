// The notifications example's backend: serves the page and, for its form, POST /notify, which
// publishes the message with the `pusher` server SDK as any Node backend would.
import { fileURLToPath } from 'node:url';
import { pusher } from '../lib/pusher-sdk.mjs';
import { fields, serveExample } from '../lib/serve.mjs';

serveExample({
  root: fileURLToPath(new URL('.', import.meta.url)),
  routes: {
    // {"message": "…"} (JSON or a form) → `my-event` on `my-channel`, which every open page shows.
    'POST /notify': async (request, body) => {
      const { message } = fields(request, body);
      if (typeof message !== 'string' || message.trim() === '' || message.length > 500)
        return { status: 400, json: { error: 'message must be a string of 1 to 500 characters' } };
      await pusher.trigger('my-channel', 'my-event', { message });
      return { status: 200, json: { sent: message } };
    },
  },
});
