/**
 * The HTTP API publisher: signed `POST /apps/{id}/events` and `/batch_events` over keep-alive sockets,
 * at a fixed rate or as fast as the subscribers keep up. Bench events carry `<seq>|<publish µs>|` at
 * the start of their data so that subscribers can check order and measure latency.
 */
import http from 'node:http';
import net from 'node:net';
import type { signRequest } from '../../src/protocol/pusher/auth.js';
import { nowUs } from './stats.js';

export type SignRequest = typeof signRequest;

/** An app's credentials. */
export interface App {
  id: string;
  key: string;
  secret: string;
}

export interface PublisherOptions {
  host: string;
  port: number;
  app: App;
  signRequest: SignRequest;
  /** Keep-alive sockets at the most (default 16). */
  maxSockets?: number;
}

/** An HTTP answer: its status (0 when the request failed) and its body, or the error's message. */
export interface Answer {
  status: number;
  body: string;
}

export class Publisher {
  readonly agent: http.Agent;

  constructor(readonly o: PublisherOptions) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 16 });
  }

  /**
   * POSTs `body` (an object) to `/apps/{id}/{endpoint}` of `app` (default the publisher's), signed with
   * its secret; resolves with the status and the body text.
   */
  post(endpoint: string, body: object, app: App = this.o.app): Promise<Answer> {
    const { host, port, signRequest } = this.o;
    const text = JSON.stringify(body);
    const urlPath = `/apps/${app.id}/${endpoint}`;
    const query = new URLSearchParams(signRequest('POST', urlPath, app, text)).toString();
    return new Promise((resolve) => {
      const req = http.request(
        {
          host,
          port,
          method: 'POST',
          path: `${urlPath}?${query}`,
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (d) => {
            data += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
        },
      );
      req.on('error', (err) => resolve({ status: 0, body: err.message }));
      req.end(text);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Publishes bench events to `channel` for `durationMs` (or until `stop`): `rate` events per second
 * (Infinity: as fast as `flow` allows), one event per `events` request or `batchSize` per
 * `batch_events` request, at most `concurrency` requests in flight. With `channels`, each `events`
 * request names all of them (`channels`, up to 100) instead of `channel`. `flow(issued)` may hold
 * publishing back (subscribers lagging); `onAnswer` hears of each request's events (sequence numbers
 * `from` to `to`), when they were issued (µs) and the answer's status. Resolves once the last response
 * is in, with the number of events issued and failed requests.
 */
export interface PublishLoopOptions {
  api: string;
  rate: number;
  channel: string;
  durationMs: number;
  concurrency: number;
  batchSize?: number;
  bytes?: number;
  event?: string;
  flow?: (issued: number) => boolean;
  channels?: string[];
  onAnswer?: (answer: { from: number; to: number; issuedAt: number; status: number }) => void;
}

export interface PublishState {
  issued: number;
  requests: number;
  failed: number;
  statuses: Record<number, number>;
  done: boolean;
}

export function publishLoop(
  publisher: Publisher,
  o: PublishLoopOptions,
): { state: PublishState; finished: Promise<PublishState>; stop: () => void } {
  const perRequest = o.api === 'batch' ? (o.batchSize ?? 10) : 1;
  const pad = 'x'.repeat(Math.max(0, o.bytes ?? 0));
  const flow = o.flow ?? (() => true);
  const started = performance.now();
  const state: PublishState = { issued: 0, requests: 0, failed: 0, statuses: {}, done: false };
  let inflight = 0;
  let stop = (): void => {};
  return {
    state,
    finished: new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (state.done && inflight === 0) {
          clearInterval(timer);
          resolve(state);
        }
      };
      stop = () => {
        state.done = true;
        finish();
      };
      const issue = () => {
        const t = nowUs();
        const from = state.issued + 1;
        const events: { name: string; channel: string; data: string }[] = [];
        for (let i = 0; i < perRequest; i++) {
          state.issued++;
          events.push({ name: o.event ?? 'b', channel: o.channel, data: `${state.issued}|${t}|${pad}` });
        }
        const to = state.issued;
        inflight++;
        state.requests++;
        const { name, data } = events[0]!;
        const request =
          o.api === 'batch'
            ? publisher.post('batch_events', { batch: events })
            : publisher.post(
                'events',
                o.channels ? { name, channels: o.channels, data } : { name, channel: o.channel, data },
              );
        request.then((res) => {
          inflight--;
          o.onAnswer?.({ from, to, issuedAt: t, status: res.status });
          state.statuses[res.status] = (state.statuses[res.status] ?? 0) + 1;
          if (res.status !== 200) state.failed++;
          pump();
          finish();
        });
      };
      const pump = (): void => {
        if (state.done) return;
        const elapsed = performance.now() - started;
        if (elapsed >= o.durationMs) {
          state.done = true;
          return finish();
        }
        const due =
          o.rate === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : (elapsed * o.rate) / 1000;
        while (inflight < o.concurrency && state.issued < due && flow(state.issued)) {
          issue();
        }
      };
      timer = setInterval(pump, 1);
      pump();
    }),
    stop: () => stop(),
  };
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * One HTTP/1.1 client on a raw socket that sends the same request bytes again and again, one at a
 * time, as a keep-alive client does: far cheaper than `http.request`, so that the server, not the load
 * client, sets the pace. A server that closes the connection after a response (`Connection: close`,
 * as Soketi does) is reconnected to before the next request, and the reconnection counts in that
 * request's latency. `onResponse(status, startedMs)` is called for each response.
 */
export interface RawHttpClientOptions {
  host: string;
  port: number;
  request: Buffer;
  onResponse: (status: number, started: number) => void;
}

export class RawHttpClient {
  socket: net.Socket | undefined = undefined;
  buffer: Buffer = Buffer.alloc(0);
  started = 0;
  closeAfter = false;
  stopped = false;
  readonly done: Promise<void>;
  resolveDone: () => void = () => {};

  constructor(readonly o: RawHttpClientOptions) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  start(): Promise<void> {
    this.#send();
    return this.done;
  }

  stop(): void {
    this.stopped = true;
  }

  #connect(): void {
    const socket = net.connect({ host: this.o.host, port: this.o.port, noDelay: true });
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('error', () => {
      // Answered by 'close', which follows.
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      // Closed mid-request: counted as a failure, then on with a fresh connection.
      if (this.started > 0) this.#answered(0);
    });
  }

  #send(): void {
    if (this.stopped) {
      this.socket?.destroy();
      this.socket = undefined;
      return this.resolveDone();
    }
    this.started = performance.now();
    if (!this.socket) this.#connect();
    this.socket!.write(this.o.request);
  }

  #data(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = this.buffer.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.buffer.toString('latin1', 0, end);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const total = end + 4 + (length ? Number(length[1]) : 0);
    if (this.buffer.length < total) return;
    this.buffer = this.buffer.subarray(total);
    this.closeAfter = /\r\nconnection:\s*close/i.test(head);
    this.#answered(Number(head.slice(9, 12)));
  }

  #answered(status: number): void {
    const started = this.started;
    this.started = 0;
    this.o.onResponse(status, started);
    if (this.closeAfter && this.socket) {
      const socket = this.socket;
      this.socket = undefined;
      socket.destroy();
    }
    this.closeAfter = false;
    this.#send();
  }
}
