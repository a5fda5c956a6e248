/**
 * The WAMP session of a load client's connection (worker.ts `Conn`, the same raw socket and WebSocket
 * framing as the Pusher clients): HELLO once the WebSocket is open, then one SUBSCRIBE (a subscriber),
 * one REGISTER (a callee) or nothing (a caller). Subscribers and callers find the bench argument
 * (wamp-wire.ts `benchArgument`) in an EVENT or RESULT without decoding it; callees decode each
 * INVOCATION and YIELD its arguments back, so the caller reads its own send time in the RESULT.
 */
import { MessageType as T } from '../../src/protocol/wamp/messages.js';
import type { Dialed } from './redial.js';
import { nowUs } from './stats.js';
import { BENCH_MARK, benchArgument, type WampCodec } from './wamp-wire.js';

/** What a connection does in a WAMP scenario; its role (`sub`, `caller`, `callee`) is the connection's. */
export interface WampOptions {
  serializer: string;
  /** A subscriber's topic. */
  topic?: string;
  /** A caller's or callee's procedure; a callee registers it with `invoke` (a shared registration). */
  procedure?: string;
  invoke?: string;
}

/** What the session needs of the raw connection under it (worker.ts `Conn`). */
export interface WampTransport {
  readonly role: string;
  /** Ends the attempt to connect: WELCOME, or ABORT. */
  dialed: ((d: Dialed) => void) | undefined;
  send(data: string | Uint8Array, opcode: number): void;
  /** Counts the bench argument whose `<seq>|<µs>|` starts at `at`; false when there is none. */
  benchAt(buf: Buffer, at: number, end: number, now: number): boolean;
}

/** A caller's run: calls sent and answered, and when it stops sending. */
interface Calls {
  until: number;
  sent: number;
  answered: number;
  errors: number;
  done: () => void;
}

const HELLO_ROLE: Record<string, string> = { sub: 'subscriber', caller: 'caller', callee: 'callee' };
const CONNECT_TIMEOUT_MS = 15_000;

export class WampClient {
  #nextRequest = 1;
  #seq = 0;
  #waiting: { request: number; settle: (err?: Error) => void } | undefined;
  #calls: Calls | undefined;
  /** A callee's invocations so far. */
  invocations = 0;

  constructor(
    readonly conn: WampTransport,
    readonly codec: WampCodec,
    readonly o: WampOptions,
    readonly countError: (what: string) => void,
  ) {}

  #send(message: unknown[]): void {
    this.conn.send(this.codec.encode(message), this.codec.binary ? 0x2 : 0x1);
  }

  /** The WebSocket is open: join the realm (the connection's `dialed` ends at WELCOME or ABORT). */
  opened(): void {
    this.#send([T.HELLO, 'realm1', { roles: { [HELLO_ROLE[this.conn.role] ?? 'subscriber']: {} } }]);
  }

  /** Subscribes or registers, as the role says, and waits for the answer. */
  async join(): Promise<void> {
    const { role } = this.conn;
    if (role === 'sub') await this.#request([T.SUBSCRIBE, 0, {}, this.o.topic]);
    else if (role === 'callee') {
      await this.#request([T.REGISTER, 0, { invoke: this.o.invoke ?? 'single' }, this.o.procedure]);
    }
  }

  #request(message: unknown[]): Promise<void> {
    const request = this.#nextRequest++;
    message[1] = request;
    return new Promise((resolve, reject) => {
      const settle = (err?: Error) => {
        clearTimeout(timer);
        this.#waiting = undefined;
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(
        () => settle(new Error(`no answer to ${String(message[0])} within ${CONNECT_TIMEOUT_MS} ms`)),
        CONNECT_TIMEOUT_MS,
      );
      this.#waiting = { request, settle };
      this.#send(message);
    });
  }

  /** A text or binary WebSocket message, `buf[start, end)`, read at `now` (µs). */
  message(buf: Buffer, start: number, end: number, now: number): void {
    if (this.conn.role !== 'callee') {
      const at = buf.indexOf(BENCH_MARK, start);
      if (at !== -1 && at < end && this.conn.benchAt(buf, at + BENCH_MARK.length, end, now)) {
        if (this.#calls) this.#answered(this.#calls);
        return;
      }
    }
    let m: unknown[];
    try {
      m = this.codec.decode(buf.subarray(start, end));
    } catch {
      return this.countError('undecodable WAMP message');
    }
    this.#control(m);
  }

  #control(m: unknown[]): void {
    const waiting = this.#waiting;
    switch (m[0]) {
      case T.WELCOME:
        this.conn.dialed?.({ ok: true });
        return;
      case T.ABORT:
        this.conn.dialed?.({ ok: false, opened: true, reason: `ABORT ${String(m[2])}` });
        return;
      case T.INVOCATION:
        this.invocations++;
        this.#send([T.YIELD, m[1], {}, m[4] ?? []]);
        return;
      case T.SUBSCRIBED:
      case T.REGISTERED:
        if (waiting && m[1] === waiting.request) return waiting.settle();
        break;
      case T.ERROR:
        if (m[1] === T.CALL && this.#calls) {
          this.countError(`ERROR to CALL ${String(m[4])}`);
          this.#calls.errors++;
          return this.#answered(this.#calls);
        }
        if (waiting && m[2] === waiting.request) return waiting.settle(new Error(`ERROR ${String(m[4])}`));
        break;
    }
    this.countError(`unexpected WAMP message ${String(m[0])}`);
  }

  /**
   * A caller keeps `window` calls in flight for `durationMs`, each with a fresh bench argument; resolves
   * once every call sent has been answered (or the connection has closed).
   */
  call(window: number, durationMs: number): Promise<{ sent: number; answered: number; errors: number }> {
    return new Promise((resolve) => {
      const calls: Calls = {
        until: performance.now() + durationMs,
        sent: 0,
        answered: 0,
        errors: 0,
        done: () => {
          this.#calls = undefined;
          resolve({ sent: calls.sent, answered: calls.answered, errors: calls.errors });
        },
      };
      this.#calls = calls;
      for (let i = 0; i < window; i++) this.#call(calls);
    });
  }

  #call(calls: Calls): void {
    calls.sent++;
    const args = [benchArgument(++this.#seq, nowUs())];
    this.#send([T.CALL, this.#nextRequest++, {}, this.o.procedure, args]);
  }

  #answered(calls: Calls): void {
    calls.answered++;
    if (performance.now() < calls.until) this.#call(calls);
    else if (calls.answered === calls.sent) calls.done();
  }

  /** The connection closed: a request or a run of calls waiting for answers ends. */
  closed(code: number): void {
    this.#waiting?.settle(new Error(`closed ${code}`));
    this.#calls?.done();
  }
}
