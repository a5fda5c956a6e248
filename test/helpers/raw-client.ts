import { type ClientOptions, WebSocket } from 'ws';

export interface PusherFrame {
  event: string;
  channel?: string;
  data?: unknown;
  user_id?: string;
}

/**
 * A bare WebSocket client speaking the Pusher protocol by hand, for what pusher-js hides or refuses to
 * send. Frames are queued; `next` takes them in order, waiting when none is there yet.
 */
export class RawClient {
  readonly ws: WebSocket;
  readonly frames: PusherFrame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: { match: (f: PusherFrame) => boolean; resolve: (f: PusherFrame) => void }[] = [];

  private constructor(url: string, options?: ClientOptions) {
    this.ws = new WebSocket(url, options);
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as PusherFrame;
      const i = this.#waiters.findIndex((w) => w.match(frame));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(frame);
      else this.frames.push(frame);
    });
  }

  /**
   * Opens a socket; resolves once the upgrade succeeded (the handshake frame may follow). `options`
   * go to ws (e.g. `headers: { Origin }`).
   */
  static async open(url: string, options?: ClientOptions): Promise<RawClient> {
    const client = new RawClient(url, options);
    await new Promise<void>((resolve, reject) => {
      client.ws.once('open', () => resolve());
      client.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      client.ws.once('error', reject);
    });
    return client;
  }

  /** Opens a socket and waits for `pusher:connection_established`; resolves with the socket id. */
  static async connect(
    url: string,
    options?: ClientOptions,
  ): Promise<{ client: RawClient; socketId: string }> {
    const client = await RawClient.open(url, options);
    const established = await client.next('pusher:connection_established');
    const socketId = (JSON.parse(established.data as string) as { socket_id: string }).socket_id;
    return { client, socketId };
  }

  /** The next frame matching `event` (a name or predicate), skipping and keeping others. */
  next(event?: string | ((f: PusherFrame) => boolean)): Promise<PusherFrame> {
    const match =
      event === undefined
        ? () => true
        : typeof event === 'string'
          ? (f: PusherFrame) => f.event === event
          : event;
    const i = this.frames.findIndex(match);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  async subscribe(channel: string, extra: Record<string, unknown> = {}): Promise<PusherFrame> {
    this.send({ event: 'pusher:subscribe', data: { channel, auth: '', ...extra } });
    return this.next(
      (f) =>
        f.channel === channel &&
        (f.event.endsWith('subscription_succeeded') || f.event === 'pusher:subscription_error'),
    );
  }

  close(): void {
    this.ws.close();
  }
}

/** Fails the test if `promise` has not settled after `ms`: a guard against hangs, not a wait. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}
