import type { Logger } from 'pino';
import { PusherError } from './errors.js';
import type { PusherSocket } from './socket.js';

/**
 * Each socket's subscribes, unsubscribes, sign-ins, client events and close run one after another, in
 * arrival order (`PusherSocket.chain`); all of it is counted in flight until it settles, so that
 * shutdown can wait for it.
 */
export class SocketWork {
  readonly #inflight = new Set<Promise<void>>();
  readonly #answer: (socket: PusherSocket, err: PusherError) => void;
  readonly #logger: Logger;

  constructor(answer: (socket: PusherSocket, err: PusherError) => void, logger: Logger) {
    this.#answer = answer;
    this.#logger = logger;
  }

  /** Runs `step` after the socket's queued work; a `PusherError` it throws is answered, others logged. */
  enqueue(socket: PusherSocket, step: () => Promise<void>): void {
    const work = (socket.chain ?? Promise.resolve()).then(step).catch((err) => {
      if (err instanceof PusherError) return this.#answer(socket, err);
      this.#logger.error({ err, socketId: socket.id }, 'pusher operation failed');
    });
    this.track(this.chainOn(socket, work));
  }

  /** Makes `work` (which must not reject) the socket's chain until it has run. */
  chainOn(socket: PusherSocket, work: Promise<void>): Promise<void> {
    const chain: Promise<void> = work.then(() => {
      if (socket.chain === chain) socket.chain = undefined;
    });
    socket.chain = chain;
    return chain;
  }

  /** Counts `work` as in flight until it settles; it must not reject. */
  track(work: Promise<void>): void {
    this.#inflight.add(work);
    work.finally(() => this.#inflight.delete(work));
  }

  /** Resolves once all the work given so far, and any it gave in turn, has finished. */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all(this.#inflight);
  }
}
