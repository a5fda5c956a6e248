// The private-inbox example's backend: serves the page, signs users in (the user id is whatever the
// page sends; in your app it comes from your session), and for the page's admin section sends a
// message to one user and disconnects one user, with the `pusher` server SDK.
import { fileURLToPath } from 'node:url';
import { pusher } from '../lib/pusher-sdk.mjs';
import { fields, serveExample } from '../lib/serve.mjs';

/** A user id the example accepts: letters, digits, `-` and `_`, at most 40. */
const USER_ID = /^[A-Za-z0-9_-]{1,40}$/;
const badUser = { status: 400, json: { error: 'user must be 1 to 40 letters, digits, - or _' } };

serveExample({
  root: fileURLToPath(new URL('.', import.meta.url)),
  routes: {
    // pusher.signin() posts socket_id, plus the `user` the page adds to its params.
    'POST /pusher/user-auth': async (request, body) => {
      const { socket_id: socketId, user } = fields(request, body);
      if (!USER_ID.test(user ?? '')) return badUser;
      try {
        return {
          status: 200,
          json: pusher.authenticateUser(socketId, { id: user, user_info: { name: user } }),
        };
      } catch (error) {
        return { status: 400, json: { error: error.message } }; // not a socket id
      }
    },
    // Every connection signed in as `user` gets `message`, on whatever channels it has.
    'POST /admin/send': async (request, body) => {
      const { user, text } = fields(request, body);
      if (!USER_ID.test(user ?? '')) return badUser;
      if (typeof text !== 'string' || text.trim() === '' || text.length > 500)
        return { status: 400, json: { error: 'text must be a string of 1 to 500 characters' } };
      await pusher.sendToUser(user, 'message', { text, at: Date.now() });
      return { status: 200, json: { sent: text, to: user } };
    },
    // Herald closes every connection signed in as `user` (code 4009).
    'POST /admin/disconnect': async (request, body) => {
      const { user } = fields(request, body);
      if (!USER_ID.test(user ?? '')) return badUser;
      await pusher.terminateUserConnections(user);
      return { status: 200, json: { disconnected: user } };
    },
  },
});
