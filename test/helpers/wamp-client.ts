import { decode, encode } from '@msgpack/msgpack';
import { Decoder, Encoder } from 'cbor-x';
import { type ClientOptions, WebSocket } from 'ws';

export type WampMessage = unknown[];
export type Serialization = 'json' | 'msgpack' | 'cbor';

/** The WebSocket subprotocols the WAMP route speaks (docs/wamp.md). */
export const WAMP_SUBPROTOCOLS = [
  'wamp.2.json',
  'wamp.2.msgpack',
  'wamp.2.cbor',
  'wamp.2.json.batched',
  'wamp.2.msgpack.batched',
  'wamp.2.cbor.batched',
] as const;

/** CBOR as a client writes it: plain maps and arrays, byte strings untagged. */
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const cborDecoder = new Decoder({ useRecords: false, mapsAsObjects: true, int64AsNumber: true } as object);

/** One message in `serialization`, as a client sends it. */
export function encodeWamp(message: WampMessage, serialization: Serialization): string | Buffer {
  if (serialization === 'json') return JSON.stringify(message);
  return serialization === 'msgpack' ? Buffer.from(encode(message)) : cbor.encode(message);
}

/** One message the router sent in `serialization`. */
export function decodeWamp(data: string | Buffer, serialization: Serialization): WampMessage {
  if (typeof data === 'string') return JSON.parse(data) as WampMessage;
  return (serialization === 'cbor' ? cborDecoder.decode(data) : decode(data)) as WampMessage;
}

/** Features a raw client announces unless told otherwise. */
export const CLIENT_ROLES = {
  publisher: { features: { publisher_exclusion: true, subscriber_blackwhite_listing: true } },
  subscriber: { features: { pattern_based_subscription: true } },
  caller: { features: { progressive_call_results: true, call_canceling: true } },
  callee: { features: { progressive_call_results: true, call_canceling: true } },
};

/** `CLIENT_ROLES`, each also announcing payload passthru mode. */
export const PASSTHRU_ROLES = Object.fromEntries(
  Object.entries(CLIENT_ROLES).map(([role, r]) => [
    role,
    { features: { ...r.features, payload_passthru_mode: true } },
  ]),
);

/**
 * A bare WebSocket client speaking WAMP by hand (JSON, MessagePack or CBOR), for what real clients hide or
 * refuse to send. Messages are queued; `next` takes them in order, waiting when none is there yet.
 */
export class RawWampClient {
  readonly ws: WebSocket;
  readonly messages: WampMessage[] = [];
  /** Raw frames as received, for byte-level checks. */
  readonly frames: (string | Buffer)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: { match: (m: WampMessage) => boolean; resolve: (m: WampMessage) => void }[] = [];
  #request = 0;
  sessionId = 0;

  private constructor(
    url: string,
    readonly serialization: Serialization,
    protocols: string | string[],
    options?: ClientOptions,
  ) {
    this.ws = new WebSocket(url, protocols, options);
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (data: Buffer, isBinary) => {
      this.frames.push(isBinary ? data : data.toString());
      const message = decodeWamp(isBinary ? data : data.toString(), serialization);
      const i = this.#waiters.findIndex((w) => w.match(message));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(message);
      else this.messages.push(message);
    });
  }

  static async open(
    url: string,
    serialization: Serialization = 'json',
    protocols: string | string[] = `wamp.2.${serialization}`,
    /** For ws, e.g. `headers: { Origin }`. */
    options?: ClientOptions,
  ): Promise<RawWampClient> {
    const client = new RawWampClient(url, serialization, protocols, options);
    await new Promise<void>((resolve, reject) => {
      client.ws.once('open', () => resolve());
      client.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      client.ws.once('error', reject);
    });
    return client;
  }

  /** Opens a socket and joins `realm`; resolves with the WELCOME. */
  static async join(
    url: string,
    options: { serialization?: Serialization; realm?: string; details?: Record<string, unknown> } = {},
  ): Promise<RawWampClient> {
    const client = await RawWampClient.open(url, options.serialization ?? 'json');
    const welcome = await client.hello(options.realm ?? 'realm1', options.details);
    if (welcome[0] !== 2) throw new Error(`expected WELCOME, got ${JSON.stringify(welcome)}`);
    return client;
  }

  async hello(realm: string, details: Record<string, unknown> = {}): Promise<WampMessage> {
    this.send([1, realm, { roles: CLIENT_ROLES, ...details }]);
    const reply = await this.next((m) => m[0] === 2 || m[0] === 3 || m[0] === 4);
    if (reply[0] === 2) this.sessionId = reply[1] as number;
    return reply;
  }

  /** The next request ID: 1, 2, 3 … */
  id(): number {
    return ++this.#request;
  }

  /** The next message matching a type code or predicate, skipping and keeping others. */
  next(match?: number | ((m: WampMessage) => boolean)): Promise<WampMessage> {
    const test =
      match === undefined
        ? () => true
        : typeof match === 'number'
          ? (m: WampMessage) => m[0] === match
          : match;
    const i = this.messages.findIndex(test);
    if (i >= 0) return Promise.resolve(this.messages.splice(i, 1)[0]!);
    return new Promise((resolve) => this.#waiters.push({ match: test, resolve }));
  }

  /** The reply to request `request` of a given type code (e.g. SUBSCRIBED or ERROR for a SUBSCRIBE). */
  reply(request: number, types: number[]): Promise<WampMessage> {
    return this.next((m) => types.includes(m[0] as number) && (m[0] === 8 ? m[2] : m[1]) === request);
  }

  send(message: WampMessage | string | Buffer): void {
    if (typeof message === 'string' || Buffer.isBuffer(message)) this.ws.send(message);
    else this.ws.send(encodeWamp(message, this.serialization));
  }

  async subscribe(topic: string, options: Record<string, unknown> = {}): Promise<number> {
    const request = this.id();
    this.send([32, request, options, topic]);
    const reply = await this.reply(request, [33, 8]);
    if (reply[0] !== 33) throw new Error(`SUBSCRIBE ${topic} failed: ${JSON.stringify(reply)}`);
    return reply[2] as number;
  }

  async register(procedure: string, options: Record<string, unknown> = {}): Promise<number> {
    const request = this.id();
    this.send([64, request, options, procedure]);
    const reply = await this.reply(request, [65, 8]);
    if (reply[0] !== 65) throw new Error(`REGISTER ${procedure} failed: ${JSON.stringify(reply)}`);
    return reply[2] as number;
  }

  /** CALL; resolves with the final RESULT or ERROR. */
  async call(
    procedure: string,
    args: unknown[] = [],
    options: Record<string, unknown> = {},
  ): Promise<WampMessage> {
    const request = this.id();
    this.send([48, request, options, procedure, args]);
    return this.next(
      (m) =>
        (m[0] === 50 && m[1] === request && !(m[2] as { progress?: boolean }).progress) ||
        (m[0] === 8 && m[2] === request),
    );
  }

  close(): void {
    this.ws.close();
  }
}
