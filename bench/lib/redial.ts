/**
 * How pusher-js 8 gets a dropped connection back, for the load clients of the `storm` scenario. Read
 * from pusher-js's source (node_modules/pusher-js/src/core/) and checked against pusher-js 8 in Node
 * with only the `ws` transport:
 *
 * - An established connection closes (connection/connection.ts `closed`): the close code's action
 *   first (connection/protocol/protocol.ts `getCloseAction`), then connection_manager.ts `closed`
 *   retries in 1000 ms. So 4200–4299 (`retry`) connect again at once, 4100–4199 (`backoff`) and every
 *   code below 4000 (1006 when the TCP connection was reset) after 1000 ms, and 4000–4099 and 4300 up
 *   (`refused`) never: the client disconnects (4000 asks for TLS, which the bench's servers have not).
 * - Connecting (connection_manager.ts `connect`) runs the strategy: attempt after attempt of the `ws`
 *   transport, each given a timeout that starts at 15 s and doubles up to 60 s
 *   (runtimes/isomorphic/default_strategy.ts `timeouts`, strategies/sequential_strategy.ts).
 * - An attempt that fails before the WebSocket opens (connection refused, an HTTP error such as 503,
 *   a reset) does not start the next one: sequential_strategy.ts waits out the attempt's timeout
 *   first. An attempt still unanswered at its timeout is aborted and the next one starts.
 * - Once the WebSocket is open, the server's first message decides (connection/handshake/index.ts):
 *   `pusher:connection_established` connects; a `pusher:error` or a close ends the whole run with the
 *   code's action (a close without a Pusher code backs off: 1000 ms), and a new run starts with the
 *   timeout back at 15 s.
 * - Connected again, the client subscribes to its channel again.
 *
 * There is no jitter anywhere: clients dropped together come back together.
 */

/** The strategy's first timeout per attempt, and its limit (runtimes/isomorphic/default_strategy.ts). */
export const STRATEGY_TIMEOUT_MS = 15_000;
export const STRATEGY_TIMEOUT_LIMIT_MS = 60_000;

/**
 * When pusher-js connects again after an established connection closed with `code`, or after the
 * server answered a handshake with `code`: in ms, or undefined for never.
 */
export function retryDelay(code: number): number | undefined {
  if (code >= 4000 && code < 4100) return undefined;
  if (code >= 4200 && code < 4300) return 0;
  if (code >= 4300) return undefined;
  return 1000;
}

/** How one attempt to connect ended. */
export type Dialed =
  | { ok: true }
  | {
      ok: false;
      /** Whether the WebSocket had opened (the server answered the upgrade with 101). */
      opened: boolean;
      /** The code the server answered the handshake with (`pusher:error` or close), if it did. */
      code?: number;
      reason: string;
    };

/** What a redialling client needs of its connection. */
export interface Dialer {
  /** One attempt: TCP, the upgrade and the server's first message, within `timeoutMs`; never rejects. */
  dial(timeoutMs: number): Promise<Dialed>;
  /** Subscribes to the connection's channel; rejects when refused or closed meanwhile. */
  resubscribe(): Promise<void>;
  /** The sequence number of the last bench event received. */
  readonly lastSeq: number;
}

/** What became of a client since the storm began; times in µs on the shared wall clock (`nowUs`). */
export interface RedialRecord {
  /** Times the established connection closed. */
  drops: number;
  attempts: number;
  failed: number;
  /** When it was subscribed again (the last time, if it dropped more than once); 0 until then. */
  subscribedAt: number;
  /** When it received an event published after `subscribedAt`; 0 until then. */
  receivingAt: number;
  /** The last event received before the first drop, and the first received after it. */
  lastBefore: number;
  firstAfter: number;
  /** Why it stopped trying, if it did. */
  gaveUp?: string;
}

/**
 * One client coming back as pusher-js does (see above). `closed` is called when its established
 * connection closes, `received` for each bench event; `outcomes` counts, for the whole process, why
 * connections closed and attempts failed.
 */
export class Redial {
  readonly record: RedialRecord = {
    drops: 0,
    attempts: 0,
    failed: 0,
    subscribedAt: 0,
    receivingAt: 0,
    lastBefore: 0,
    firstAfter: 0,
  };
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    readonly conn: Dialer,
    readonly outcomes: Map<string, number>,
    readonly now: () => number,
  ) {}

  /** The established connection closed with `code` (1006 without a close frame). */
  closed(code: number): void {
    if (this.#stopped) return;
    const r = this.record;
    if (r.drops++ === 0) r.lastBefore = this.conn.lastSeq;
    r.subscribedAt = 0;
    r.receivingAt = 0;
    this.#count(`closed ${code}`);
    this.#after(retryDelay(code), `closed ${code}`);
  }

  /** A bench event `seq`, published at `publishedAt`, read at `now` (µs). */
  received(seq: number, publishedAt: number, now: number): void {
    const r = this.record;
    if (r.drops === 0) return;
    if (r.firstAfter === 0) r.firstAfter = seq;
    if (r.subscribedAt > 0 && r.receivingAt === 0 && publishedAt > r.subscribedAt) r.receivingAt = now;
  }

  /** Stops trying: no attempt starts after this. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #count(what: string): void {
    this.outcomes.set(what, (this.outcomes.get(what) ?? 0) + 1);
  }

  /** Connects again in `delay` ms, or never. */
  #after(delay: number | undefined, why: string): void {
    if (delay === undefined) {
      this.record.gaveUp = why;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#connect(), delay);
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#timer = setTimeout(resolve, ms);
    });
  }

  /** One run of the strategy (connection_manager.ts `connect`), then the subscription. */
  async #connect(): Promise<void> {
    const r = this.record;
    let timeout = STRATEGY_TIMEOUT_MS;
    for (;;) {
      const started = performance.now();
      r.attempts++;
      const d = await this.conn.dial(timeout);
      if (this.#stopped) return;
      if (d.ok) break;
      r.failed++;
      this.#count(d.code === undefined ? d.reason : `handshake ${d.code}`);
      if (d.code !== undefined) return this.#after(retryDelay(d.code), `handshake ${d.code}`);
      const wait = started + timeout - performance.now();
      timeout = Math.min(timeout * 2, STRATEGY_TIMEOUT_LIMIT_MS);
      if (wait > 0) await this.#wait(wait);
      if (this.#stopped) return;
    }
    try {
      await this.conn.resubscribe();
      r.subscribedAt = this.now();
    } catch (err) {
      // Closed meanwhile: `closed` has planned the next run. Refused: pusher-js does not try again.
      const { message } = err as Error;
      if (!message.startsWith('closed')) r.gaveUp = message;
      this.#count(`subscribe: ${message}`);
    }
  }
}
