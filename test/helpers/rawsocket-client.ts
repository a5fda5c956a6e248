import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { CLIENT_ROLES, decodeWamp, encodeWamp, type Serialization, type WampMessage } from './wamp-client.js';

/** RawSocket's serializer IDs (WAMP spec, RawSocket Transport). */
export const SERIALIZER_IDS: Readonly<Record<Serialization, number>> = { json: 1, msgpack: 2, cbor: 3 };

/** A frame header followed by its payload, written here independently of the server's code. */
export function rawSocketFrame(type: number, payload: Buffer | string): Buffer {
  const bytes = Buffer.from(payload);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(bytes.length);
  header[0] = type;
  return Buffer.concat([header, bytes]);
}

export interface RawSocketFrameIn {
  type: number;
  payload: Buffer;
}

/**
 * A bare TCP (or TLS) client of WAMP over RawSocket, for byte-level tests: what it receives is kept
 * as the handshake reply (the first 4 bytes) and frames after it; `next` waits for a WAMP message.
 */
export class RawSocketClient {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  readonly frames: RawSocketFrameIn[] = [];
  readonly messages: WampMessage[] = [];
  /** Why messages could not be decoded in `serialization`; a router never sends such. */
  readonly undecodable: string[] = [];
  #buffer = Buffer.alloc(0);
  #reply: Buffer | undefined;
  #wake: () => void = () => {};
  serialization: Serialization = 'json';
  sessionId = 0;
  #request = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('error', () => {}); // `closed` carries the outcome
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#parse();
      this.#wake();
    });
    socket.on('close', () => this.#wake());
  }

  /** Connects; `tls` for the public port with TLS (any certificate is accepted). */
  static connect(port: number, options: { tls?: boolean } = {}): Promise<RawSocketClient> {
    return new Promise((resolve, reject) => {
      const socket = options.tls
        ? connectTls({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(client))
        : connectTcp(port, '127.0.0.1', () => resolve(client));
      const client = new RawSocketClient(socket);
      socket.once('error', reject);
    });
  }

  /** Connects and completes the handshake for `serialization`, the client accepting 2^(9+`exponent`) bytes. */
  static async open(
    port: number,
    serialization: Serialization = 'json',
    options: { exponent?: number; tls?: boolean } = {},
  ): Promise<RawSocketClient> {
    const client = await RawSocketClient.connect(port, options);
    const reply = await client.handshake([
      0x7f,
      ((options.exponent ?? 15) << 4) | SERIALIZER_IDS[serialization],
      0,
      0,
    ]);
    if (reply[0] !== 0x7f || (reply[1]! & 0x0f) !== SERIALIZER_IDS[serialization]) {
      throw new Error(`handshake refused: ${reply.toString('hex')}`);
    }
    client.serialization = serialization;
    return client;
  }

  /** Connects, shakes hands and joins realm1; resolves with the client once WELCOME came. */
  static async join(
    port: number,
    serialization: Serialization = 'json',
    options: { exponent?: number; tls?: boolean } = {},
  ): Promise<RawSocketClient> {
    const client = await RawSocketClient.open(port, serialization, options);
    client.send([1, 'realm1', { roles: CLIENT_ROLES }]);
    const welcome = await client.next((m) => m[0] === 2 || m[0] === 3);
    if (welcome[0] !== 2) throw new Error(`expected WELCOME, got ${JSON.stringify(welcome)}`);
    client.sessionId = welcome[1] as number;
    return client;
  }

  /** Sends `bytes` and resolves with the 4 bytes of the router's reply. */
  async handshake(bytes: number[] | Buffer): Promise<Buffer> {
    this.socket.write(Buffer.from(bytes));
    return this.reply();
  }

  /** The router's 4-byte handshake reply; rejects if the connection closes first. */
  async reply(): Promise<Buffer> {
    await this.#until(() => this.#reply !== undefined, 'the handshake reply');
    return this.#reply!;
  }

  /** Whatever came before the close, once the router has closed the connection. */
  async end(): Promise<Buffer> {
    await this.closed;
    return this.#reply ?? this.#buffer;
  }

  /** The next request ID: 1, 2, 3 … */
  id(): number {
    return ++this.#request;
  }

  send(message: WampMessage): void {
    this.write(rawSocketFrame(0, encodeWamp(message, this.serialization)));
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** The next WAMP message matching `match`, skipping and keeping others. */
  async next(match: (m: WampMessage) => boolean = () => true): Promise<WampMessage> {
    let found: WampMessage | undefined;
    await this.#until(() => {
      const i = this.messages.findIndex(match);
      if (i >= 0) found = this.messages.splice(i, 1)[0];
      return found !== undefined;
    }, 'a WAMP message');
    return found!;
  }

  /** The next frame of `type` (1 PING, 2 PONG) that passes `match`, skipping and keeping others. */
  async frame(type: number, match: (payload: Buffer) => boolean = () => true): Promise<RawSocketFrameIn> {
    let found: RawSocketFrameIn | undefined;
    await this.#until(() => {
      const i = this.frames.findIndex((f) => f.type === type && match(f.payload));
      if (i >= 0) found = this.frames.splice(i, 1)[0];
      return found !== undefined;
    }, `a frame of type ${type}`);
    return found!;
  }

  close(): void {
    this.socket.destroy();
  }

  #parse(): void {
    if (this.#reply === undefined) {
      if (this.#buffer.length < 4) return;
      this.#reply = this.#buffer.subarray(0, 4);
      this.#buffer = this.#buffer.subarray(4);
    }
    while (this.#buffer.length >= 4) {
      const first = this.#buffer[0]!;
      const length = first & 0x08 ? 2 ** 24 : this.#buffer.readUIntBE(1, 3);
      if (this.#buffer.length < 4 + length) return;
      const payload = this.#buffer.subarray(4, 4 + length);
      this.#buffer = this.#buffer.subarray(4 + length);
      const type = first & 0x07;
      if (type !== 0) this.frames.push({ type, payload });
      else
        this.messages.push(
          decodeWamp(this.serialization === 'json' ? payload.toString() : payload, this.serialization),
        );
    }
  }

  #message(payload: Buffer): void {
    try {
      this.messages.push(
        decodeWamp(this.serialization === 'json' ? payload.toString() : payload, this.serialization),
      );
    } catch (err) {
      this.undecodable.push((err as Error).message);
    }
  }

  async #until(ready: () => boolean, what: string): Promise<void> {
    while (!ready()) {
      if (this.socket.destroyed) throw new Error(`closed before ${what}`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }
}
