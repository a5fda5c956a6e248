import { Frame } from '../../core/frame.js';
import type { AppStates } from './app-states.js';
import { encodeInternal } from './codec.js';
import { type PusherError, pusherError } from './errors.js';
import type { PusherSocket } from './socket.js';

/** The answer to a client's `pusher:ping`. */
export const PONG = new Frame(encodeInternal('pusher:pong', {}));
const PING = new Frame(encodeInternal('pusher:ping', {}));

/** What the liveness check needs of the server. */
export interface LivenessParts {
  readonly activityTimeoutSeconds: number;
  readonly pongTimeoutSeconds: number;
  readonly now: () => number;
  /** Whose `sockets()` are every open socket on this node. */
  readonly states: Pick<AppStates, 'sockets'>;
  answer(socket: PusherSocket, err: PusherError): void;
}

/**
 * The server's side of ping/pong (Pusher docs, Channels protocol): a connection silent
 * for `activityTimeoutSeconds` gets a `pusher:ping`; one that then stays silent for
 * `pongTimeoutSeconds` is closed with 4201 (reconnect now). Anything the client sends counts as an
 * answer (`PusherSocket.onActivity`).
 */
export class Liveness {
  readonly #parts: LivenessParts;
  #sweep: NodeJS.Timeout | undefined;

  constructor(parts: LivenessParts) {
    this.#parts = parts;
  }

  /** Checks every socket a few times per timeout (every 50 ms to 5 s). Idempotent. */
  start(): void {
    if (this.#sweep) return;
    const { activityTimeoutSeconds, pongTimeoutSeconds } = this.#parts;
    const shortest = Math.min(activityTimeoutSeconds, pongTimeoutSeconds) * 1000;
    const every = Math.max(50, Math.min(5000, Math.floor(shortest / 4)));
    this.#sweep = setInterval(() => this.check(), every);
  }

  stop(): void {
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  /** Pings the sockets silent for too long; closes those that did not answer the last ping in time. */
  check(): void {
    const parts = this.#parts;
    const now = parts.now();
    const activity = parts.activityTimeoutSeconds * 1000;
    const pong = parts.pongTimeoutSeconds * 1000;
    for (const socket of parts.states.sockets()) {
      if (socket.pingedAt !== 0) {
        if (now - socket.pingedAt >= pong) parts.answer(socket, pusherError('PONG_NOT_RECEIVED'));
      } else if (now - socket.lastSeen >= activity) {
        socket.pingedAt = now;
        socket.connection.send(PING);
      }
    }
  }
}
