// The who's-online example's backend: serves the page and authorizes it for the presence channel
// `presence-room`. Here the member's name is whatever the page sends; in your app the user comes from
// your session, and the endpoint refuses anyone not signed in.
import { fileURLToPath } from 'node:url';
import { pusher } from '../lib/pusher-sdk.mjs';
import { fields, serveExample } from '../lib/serve.mjs';

serveExample({
  root: fileURLToPath(new URL('.', import.meta.url)),
  routes: {
    // pusher-js posts socket_id and channel_name, plus the `name` the page adds to its params.
    'POST /pusher/auth': async (request, body) => {
      const { socket_id: socketId, channel_name: channel, name } = fields(request, body);
      if (channel !== 'presence-room') return { status: 403, json: { error: 'only presence-room' } };
      if (typeof name !== 'string' || name.trim() === '' || name.length > 40)
        return { status: 400, json: { error: 'name must be a string of 1 to 40 characters' } };
      // One member per tab: the socket id is unique to the connection.
      const member = { user_id: socketId, user_info: { name: name.trim() } };
      try {
        return { status: 200, json: pusher.authorizeChannel(socketId, channel, member) };
      } catch (error) {
        return { status: 400, json: { error: error.message } }; // not a socket id
      }
    },
  },
});
