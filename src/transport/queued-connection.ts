import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Connection, Session } from '../core/connection.js';
import type { Frame } from '../core/frame.js';
import { Traffic } from '../core/traffic.js';
import type { ConnectionLimits } from './connection-limits.js';
import type { FlushScheduler } from './write-queue.js';
import { WriteQueue } from './write-queue.js';

/** Where the traffic of connections not counted in an app goes: a sink nobody reads, so counting never branches. */
const UNCOUNTED = new Traffic();

/** How long a closing connection may take to finish closing before it is cut. */
const CLOSE_GRACE_MS = 1000;

/** The transport a connection belongs to, told when the connection is gone. */
export interface ConnectionOwner {
  readonly scheduler: FlushScheduler;
  readonly options: { readonly logger: Logger; readonly maxBufferedBytes: number };
  forget(connection: QueuedConnection): void;
}

/**
 * What a WebSocket and a RawSocket connection share: frames queued and written together once per
 * event-loop turn, the cap on bytes waiting (`maxBufferedBytes`, docs/security.md), the app's traffic
 * counters, and the ways a connection ends. A transport adds its framing (`send`), its graceful end and
 * its cut.
 */
export abstract class QueuedConnection implements Connection {
  session: Session | undefined;
  /** The app's counters once the protocol named them (`countIn`). */
  traffic: Traffic = UNCOUNTED;
  readonly #queue: WriteQueue;
  /** Set once the connection is closing or gone: nothing more is queued. */
  protected closing = false;
  #overflowing = false;
  #killTimer: NodeJS.Timeout | undefined;
  /** The code this side closed with, which is the one counted (the client's may differ). */
  protected closeCode = 0;

  constructor(
    readonly owner: ConnectionOwner,
    readonly socket: Socket,
    /** The client's address for the limits per address; `''` when they are off. */
    readonly address: string,
  ) {
    this.#queue = new WriteQueue(socket, owner.scheduler, owner.options.maxBufferedBytes);
  }

  abstract send(frame: Frame): void;
  /** Starts the transport's own closing (a close frame, the end of the stream). */
  protected abstract end(code: number, reason: string): void;
  /** Cuts the connection at once. */
  protected abstract cut(): void;
  /** Whether the connection is already gone. */
  protected abstract get gone(): boolean;

  /** Read from the socket when asked (Node then keeps it): most connections are never asked. */
  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  /** Queues `wire`; a client that stopped reading overflows instead. */
  protected write(wire: Buffer): void {
    if (this.closing) return;
    if (!this.#queue.push(wire, this) && !this.#overflowing) this.#overflow();
  }

  countIn(traffic: Traffic): void {
    if (this.traffic !== UNCOUNTED || this.gone) return;
    this.traffic = traffic;
    traffic.opened++;
    traffic.connections++;
  }

  flush(): void {
    this.#queue.write(this.traffic);
  }

  drained(): Promise<void> {
    this.flush();
    const socket = this.socket;
    if (this.closing || socket.destroyed || socket.writableLength <= this.owner.options.maxBufferedBytes / 2)
      return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.closeCode = code;
    this.flush();
    this.end(code, reason);
    this.#killTimer = setTimeout(() => this.cut(), CLOSE_GRACE_MS);
  }

  /** Cuts the connection at once (shutdown's last resort). */
  terminate(): void {
    this.cut();
  }

  /** Ends the connection at once with `code` counted, dropping what is queued. */
  protected fail(code: number): void {
    this.closing = true;
    this.closeCode = code;
    this.#queue.clear();
    this.cut();
  }

  /**
   * The client stopped reading. What is queued is dropped, the protocol says goodbye its own way (best
   * effort: the client is not reading), and the socket is cut at once so its buffers are freed.
   */
  #overflow(): void {
    this.#queue.clear();
    this.#overflowing = true;
    this.owner.options.logger.warn({ remoteAddress: this.remoteAddress }, 'slow client disconnected');
    this.session?.onOverflow();
    this.flush();
    this.closing = true;
    this.cut();
  }

  /** The socket is gone, however it went (`code`: as the transport saw it). */
  closed(code: number): void {
    this.closing = true;
    this.#queue.clear();
    clearTimeout(this.#killTimer);
    if (this.traffic !== UNCOUNTED) this.traffic.close(this.closeCode || code);
    this.owner.forget(this);
    this.session?.onClose(code);
  }
}

/**
 * A transport's open connections, each counted in the connection limits from its opening until it is
 * forgotten (once, however it ends), and drained at shutdown.
 */
export class LiveConnections<C extends QueuedConnection> {
  readonly #live = new Set<C>();
  #onEmpty: (() => void) | undefined;

  constructor(readonly limits: ConnectionLimits | undefined) {}

  get size(): number {
    return this.#live.size;
  }

  add(connection: C): void {
    this.#live.add(connection);
    this.limits?.opened(connection.address);
  }

  forget(connection: C): void {
    if (this.#live.delete(connection)) this.limits?.closed(connection.address);
    if (this.#live.size === 0) this.#onEmpty?.();
  }

  /** Resolves once every connection has closed, or cuts the rest after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#live.size > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(50, Math.max(1, deadline - Date.now())));
        this.#onEmpty = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#onEmpty = undefined;
    for (const c of this.#live) c.terminate();
  }
}
