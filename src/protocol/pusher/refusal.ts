import { Frame } from '../../core/frame.js';
import type { LimitName } from '../../core/limit-refusals.js';
import { encodeError, encodeSubscriptionError } from './codec.js';
import type { PusherError } from './errors.js';
import type { PusherSocket } from './socket.js';

/**
 * The one place a refusal goes on the wire. A subscription refusal that names a channel sends its
 * `pusher:subscription_error` first; then the `pusher:error`; a refusal in the closing bands then
 * closes with the same code (Pusher docs, Channels protocol, "Error Codes"), once. A refusal by a
 * limit is counted on `/metrics` (`limitRefusals`).
 */
export function answer(
  socket: PusherSocket,
  err: PusherError,
  limitRefusals?: { count(limit: LimitName): void },
): void {
  const { entry, message } = err;
  if (entry.closes && entry.code !== null) {
    if (socket.state === 'closed' || socket.state === 'closing') return;
    socket.state = 'closing';
    socket.connection.send(new Frame(encodeError(entry.code, message)));
    socket.connection.close(entry.code, message);
    return;
  }
  if (entry.limit) limitRefusals?.count(entry.limit);
  if (entry.subscription && err.channel !== undefined) {
    const { type, status } = entry.subscription;
    socket.connection.send(new Frame(encodeSubscriptionError(err.channel, type, message, status)));
  }
  socket.connection.send(new Frame(encodeError(entry.code, message)));
}
