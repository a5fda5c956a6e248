import { WebSocket } from 'ws';
import { decodeClientMessage, objectData } from '../../protocol/pusher/codec.js';
import { caOption, type NetOptions, networkProblem, oneLine, seconds } from './net.js';

/**
 * A minimal Pusher client over `ws` (pusher-js is not a production dependency): connect, subscribe to
 * a public channel, wait for one event (Pusher docs, Channels protocol). Every frame is untrusted: one
 * that is not a Pusher envelope is skipped, and every wait ends by its deadline or when the socket
 * closes, with a reason a person can act on.
 */

/**
 * Largest frame accepted from the server (a larger one closes the socket with 1009); what doctor
 * waits for is a few dozen bytes, and the frames kept meanwhile stay within a few MiB.
 */
const MAX_FRAME_BYTES = 64 * 1024;
/** Frames kept while nothing waits for them; older ones are dropped. */
const MAX_BUFFERED_FRAMES = 100;

interface Frame {
  event: string;
  channel?: string | undefined;
  data?: unknown;
}

/** What a wait makes of a frame: its result, a failure, or undefined to keep waiting. */
type Match<T> = (frame: Frame) => { value: T } | { problem: string } | undefined;

interface Waiter {
  match: Match<unknown>;
  resolve(value: unknown): void;
  reject(problem: Error): void;
}

/** Why the server closed a Pusher connection, by close code (Pusher docs, Channels protocol, "Error Codes"). */
function closeAdvice(code: number, key: string): string | undefined {
  switch (code) {
    case 4000:
      return 'the app accepts TLS only: use an https:// --url';
    case 4001:
      return `the server does not know app key "${key}": check --app-key`;
    case 4003:
      return 'the app is disabled';
    case 4004:
      return "the app is over its connection quota: raise the app's maxConnections";
    case 4009:
      return "the connection is unauthorized: check the app's allowedOrigins";
    case 4100:
      return 'the server is over capacity: try again later';
    case 4200:
      return 'the server is restarting or shutting down';
    default:
      return undefined;
  }
}

/** The value of the first of `keys` that `object` holds with type `type`. */
function firstOf<K extends 'number' | 'string'>(
  object: Record<string, unknown> | undefined,
  keys: readonly string[],
  type: K,
): (K extends 'number' ? number : string) | undefined {
  for (const key of keys) {
    const value = object?.[key];
    if (typeof value === type) return value as K extends 'number' ? number : string;
  }
  return undefined;
}

export class PusherProbe {
  readonly #ws: WebSocket;
  readonly #key: string;
  readonly #frames: Frame[] = [];
  #waiter: Waiter | undefined;
  /** Set once the socket is gone: why, in words. */
  #closed: string | undefined;
  #lastError: string | undefined;

  private constructor(ws: WebSocket, key: string, where: string) {
    this.#ws = ws;
    this.#key = key;
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const decoded = decodeClientMessage(String(data));
      if (decoded.ok) this.#receive(decoded.message);
    });
    ws.on('error', (err) => {
      const refused = /Unexpected server response: (\d+)/.exec(err.message);
      this.#lastError = refused
        ? `the WebSocket upgrade at ${where} was refused with HTTP ${refused[1]}`
        : networkProblem(err, where);
    });
    ws.on('close', (code, reason) => this.#gone(code, reason.toString()));
  }

  /**
   * Opens `url` and waits for `pusher:connection_established`; rejects with the reason when the
   * server refuses, closes, sends `pusher:error` first, or stays silent past `timeoutMs`.
   */
  static async connect(url: URL, key: string, where: string, options: NetOptions): Promise<PusherProbe> {
    const ws = new WebSocket(url, {
      handshakeTimeout: options.timeoutMs,
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      ...caOption(options),
    });
    const probe = new PusherProbe(ws, key, where);
    try {
      await probe.#expect(options.timeoutMs, 'pusher:connection_established', (frame) => {
        if (frame.event === 'pusher:error') return { problem: probe.#errorText(frame.data) };
        if (frame.event !== 'pusher:connection_established') return undefined;
        const socketId = objectData(frame.data)?.socket_id;
        return typeof socketId === 'string'
          ? { value: socketId }
          : { problem: 'pusher:connection_established without a socket_id' };
      });
    } catch (err) {
      probe.close();
      throw err;
    }
    return probe;
  }

  /** Subscribes to a public channel and waits for `pusher_internal:subscription_succeeded`. */
  async subscribe(channel: string, timeoutMs: number): Promise<void> {
    this.#ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
    await this.#expect(timeoutMs, 'pusher_internal:subscription_succeeded', (frame) => {
      if (frame.channel !== channel) return frame.event === 'pusher:error' ? this.#refusal(frame) : undefined;
      if (frame.event === 'pusher_internal:subscription_succeeded') return { value: undefined };
      if (frame.event === 'pusher:subscription_error') return this.#refusal(frame);
      return undefined;
    });
  }

  /** Waits for `event` on `channel`; resolves with its `data` string. */
  nextEvent(channel: string, event: string, timeoutMs: number): Promise<string> {
    return this.#expect(timeoutMs, `the event ${event}`, (frame) =>
      frame.channel === channel && frame.event === event && typeof frame.data === 'string'
        ? { value: frame.data }
        : undefined,
    );
  }

  close(): void {
    this.#ws.terminate();
  }

  #refusal(frame: Frame): { problem: string } {
    return { problem: `refused: ${this.#errorText(frame.data)}` };
  }

  /** The message of a `pusher:error` or `pusher:subscription_error`, whatever shape its data has. */
  #errorText(data: unknown): string {
    const object = objectData(data);
    const code = firstOf(object, ['code', 'status'], 'number');
    const message = firstOf(object, ['message', 'error'], 'string');
    const advice = code === undefined ? undefined : closeAdvice(code, this.#key);
    const said = [code, message === undefined ? undefined : oneLine(message)]
      .filter((p) => p !== undefined)
      .join(' ');
    if (advice) return `${advice} (${said})`;
    return said === '' ? 'an error without a message' : said;
  }

  #receive(frame: Frame): void {
    const waiter = this.#waiter;
    const outcome = waiter?.match(frame);
    if (!waiter || outcome === undefined) {
      if (frame.event === 'pusher:error') this.#lastError = this.#errorText(frame.data);
      this.#frames.push(frame);
      if (this.#frames.length > MAX_BUFFERED_FRAMES) this.#frames.shift();
      return;
    }
    this.#waiter = undefined;
    if ('value' in outcome) waiter.resolve(outcome.value);
    else waiter.reject(new Error(outcome.problem));
  }

  #gone(code: number, reason: string): void {
    const advice = closeAdvice(code, this.#key);
    const said = `closed with code ${code}${reason ? `: ${oneLine(reason, 80)}` : ''}`;
    this.#closed = advice ? `${advice} (${said})` : (this.#lastError ?? `the server ${said}`);
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(new Error(this.#closed));
  }

  /** The first frame (buffered or to come) `match` decides on; rejects on close or after `timeoutMs`. */
  #expect<T>(timeoutMs: number, what: string, match: Match<T>): Promise<T> {
    for (const [i, frame] of this.#frames.entries()) {
      const outcome = match(frame);
      if (outcome === undefined) continue;
      this.#frames.splice(0, i + 1);
      return 'value' in outcome ? Promise.resolve(outcome.value) : Promise.reject(new Error(outcome.problem));
    }
    this.#frames.length = 0;
    if (this.#closed !== undefined) return Promise.reject(new Error(this.#closed));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`no ${what} within ${seconds(timeoutMs)}`));
      }, timeoutMs);
      this.#waiter = {
        match: match as Match<unknown>,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (problem) => {
          clearTimeout(timer);
          reject(problem);
        },
      };
    });
  }
}
