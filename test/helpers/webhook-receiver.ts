import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookEventJson {
  name: string;
  channel: string;
  [field: string]: unknown;
}

export interface ReceivedWebhook {
  /** Lower-case names, as node:http gives them (and as the `pusher` SDK's `webhook()` expects). */
  headers: IncomingHttpHeaders;
  rawBody: string;
  body: { time_ms: number; events: WebhookEventJson[] };
  /** The status answered, or 'hang' for a request left without an answer. */
  answer: number | 'hang';
}

/** What to answer the `n`th request (0-based): a status, or 'hang' to never answer. */
export type Responder = (n: number, request: ReceivedWebhook) => number | 'hang';

/**
 * A local webhook endpoint on 127.0.0.1 port 0 that records every request and answers as told
 * (200 unless `respond` says otherwise).
 */
export class WebhookReceiver {
  /** Every request, in arrival order, whatever it was answered. */
  readonly requests: ReceivedWebhook[] = [];
  readonly #server: Server;
  readonly #hanging = new Set<ServerResponse>();
  /** Events of the requests answered 2xx, appended as they come. */
  readonly #events: WebhookEventJson[] = [];
  #respond: Responder;
  #waiters: { check: () => boolean; resolve: () => void }[] = [];

  private constructor(respond: Responder) {
    this.#respond = respond;
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        const request: ReceivedWebhook = {
          headers: req.headers,
          rawBody,
          body: JSON.parse(rawBody) as ReceivedWebhook['body'],
          answer: 200,
        };
        request.answer = this.#respond(this.requests.length, request);
        this.requests.push(request);
        if (request.answer === 'hang') {
          this.#hanging.add(res);
          res.on('close', () => this.#hanging.delete(res));
        } else {
          res.writeHead(request.answer, { 'Content-Type': 'text/plain' }).end('ok');
          const { events } = request.body;
          if (request.answer >= 200 && request.answer < 300 && Array.isArray(events))
            this.#events.push(...events);
        }
        this.#notify();
      });
    });
  }

  static async start(respond: Responder = () => 200): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(respond);
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/webhooks`;
  }

  /** Requests answered 2xx. */
  get accepted(): ReceivedWebhook[] {
    return this.requests.filter((r) => typeof r.answer === 'number' && r.answer >= 200 && r.answer < 300);
  }

  /** Events of the requests answered 2xx, in arrival order. */
  get events(): readonly WebhookEventJson[] {
    return this.#events;
  }

  /** Requests waiting for an answer that will never come. */
  get hanging(): number {
    return this.#hanging.size;
  }

  /** Resolves once `check()` holds, re-checking at every request that arrives. */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ check, resolve }));
  }

  /** Resolves once an accepted event matches `match`; with it. */
  async event(match: (e: WebhookEventJson) => boolean): Promise<WebhookEventJson> {
    await this.until(() => this.events.some(match));
    return this.events.find(match)!;
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (w.check()) w.resolve();
      else this.#waiters.push(w);
    }
  }
}
