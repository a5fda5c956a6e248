import type { Socket } from 'node:net';
import type { Traffic } from '../core/traffic.js';

/** A connection whose queued frames are written when the event-loop turn ends. */
export interface Flushable {
  flush(): void;
}

/** How long after a connection arrives flushes wait for the timers (see `connectionArrived`). */
const ARRIVALS_MS = 100;

/**
 * Collects the connections that queued frames in this event-loop turn and flushes them all once it
 * ends (`setImmediate`): a burst of messages to one socket leaves in one system call.
 */
export class FlushScheduler {
  #dirty: Flushable[] = [];
  #scheduled = false;
  /** When the last connection arrived (`performance.now()`). */
  #arrivedAt = Number.NEGATIVE_INFINITY;
  readonly #flushAll = () => this.flush();

  /**
   * A connection arrived. For the next `ARRIVALS_MS`, flushes wait for the timers (`setTimeout` 0)
   * rather than `setImmediate`: a pending immediate makes the event loop poll without waiting, and
   * Node (libuv 1.46) then accepts one connection per loop turn, so that during a reconnect storm the
   * listen queue fills and the kernel drops connections. A flush after the timers lets the poll wait
   * for them and take connections by the dozen; outside storms, frames leave within the turn.
   */
  connectionArrived(): void {
    this.#arrivedAt = performance.now();
  }

  /** `connection` has frames queued (called once per turn by each connection, on its first frame). */
  markDirty(connection: Flushable): void {
    this.#dirty.push(connection);
    if (!this.#scheduled) {
      this.#scheduled = true;
      if (performance.now() - this.#arrivedAt < ARRIVALS_MS) setTimeout(this.#flushAll, 0);
      else setImmediate(this.#flushAll);
    }
  }

  /** Flushes every connection marked so far, now. */
  flush(): void {
    this.#scheduled = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const c of dirty) c.flush();
  }
}

/**
 * The frames one connection queued in this event-loop turn, with the cap on the bytes the connection
 * may have waiting: the socket's own buffer plus this queue (`maxBufferedBytes`, docs/security.md: a
 * client that stops reading is disconnected before it can grow the server's memory).
 */
export class WriteQueue {
  #queue: Buffer[] | null = null;
  #queued = 0;

  constructor(
    readonly socket: Socket,
    readonly scheduler: FlushScheduler,
    readonly maxBufferedBytes: number,
  ) {}

  /**
   * Queues `wire` for `owner`'s next flush. Returns false, queuing nothing, when the bytes waiting
   * would pass the cap: the client is not reading. A frame with nothing waiting before it is always
   * queued, however long (a WAMP message may be 16 MiB, past the cap): one message says nothing of a
   * client's reading, and the next one finds it waiting if the client does not read it.
   */
  push(wire: Buffer, owner: Flushable): boolean {
    const waiting = this.socket.writableLength + this.#queued;
    if (waiting > 0 && waiting + wire.length > this.maxBufferedBytes) return false;
    this.#queued += wire.length;
    if (this.#queue === null) {
      this.#queue = [wire];
      this.scheduler.markDirty(owner);
    } else {
      this.#queue.push(wire);
    }
    return true;
  }

  /** Writes what is queued (counted in `traffic` once per write, not per frame), corked into one call. */
  write(traffic: Traffic): void {
    const queue = this.#queue;
    const queued = this.#queued;
    this.clear();
    if (queue === null || !this.socket.writable) return;
    traffic.messagesOut += queue.length;
    traffic.bytesOut += queued;
    if (queue.length === 1) {
      this.socket.write(queue[0]!);
    } else {
      this.socket.cork();
      for (const buf of queue) this.socket.write(buf);
      this.socket.uncork();
    }
  }

  /** Drops what is queued. */
  clear(): void {
    this.#queue = null;
    this.#queued = 0;
  }
}
