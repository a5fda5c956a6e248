// The `pusher` server SDK, as the examples' backends use it: pointed at Herald (`herald` in
// serve.mjs: the app and address of `npm start`, or HERALD_* in the environment). Your backend has
// the same, with its own host, port and credentials.
import Pusher from 'pusher';
import { herald } from './serve.mjs';

export const pusher = new Pusher({
  appId: herald.appId,
  key: herald.key,
  secret: herald.secret,
  host: herald.host,
  port: String(herald.port),
  useTLS: false,
});
