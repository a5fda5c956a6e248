/**
 * The framing of WAMP over RawSocket (WAMP spec, Advanced Profile, RawSocket Transport): the 4-byte
 * handshake each side sends once, and the 4-byte header before every message. Pure: bytes in, bytes or
 * values out.
 */

/** The first byte of a handshake; no HTTP request starts with it, so one port can serve both. */
export const RAWSOCKET_MAGIC = 0x7f;

/** The handshake's serializer IDs that Herald speaks, by the WebSocket subprotocol of the same serializer. */
export const RAWSOCKET_SERIALIZERS: Readonly<Record<number, string>> = {
  1: 'wamp.2.json',
  2: 'wamp.2.msgpack',
  3: 'wamp.2.cbor',
};

/** The router's error replies to a handshake (the upper 4 bits of its second byte). */
export const RawSocketRefusal = {
  SERIALIZER_UNSUPPORTED: 1,
  MAX_LENGTH_UNACCEPTABLE: 2,
  RESERVED_BITS: 3,
  CONNECTION_LIMIT: 4,
} as const;
export type RawSocketRefusal = (typeof RawSocketRefusal)[keyof typeof RawSocketRefusal];

/** Transport message types (the low 3 bits of a frame header's first byte). */
export const RawSocketFrameType = { MESSAGE: 0, PING: 1, PONG: 2 } as const;

/** The smallest and largest message length a handshake can announce: 2^9 and 2^24 bytes. */
const MIN_EXPONENT = 9;
const MAX_EXPONENT = 24;
/** The one length a frame header writes with its 25th bit (X): exactly 16 MiB, the 24 bits clear. */
const X_LENGTH = 2 ** 24;

/** A client's handshake as the router reads it. */
export type ClientHandshake =
  | { readonly ok: true; readonly serializer: number; readonly maxLength: number }
  | { readonly ok: false; readonly refusal: RawSocketRefusal; readonly why: string };

/**
 * Reads a client's 4-byte handshake, whose first byte is `RAWSOCKET_MAGIC`: its serializer and the
 * longest message it accepts, or the refusal the router answers with. A serializer outside
 * `RAWSOCKET_SERIALIZERS` (0 is illegal; 4 UBJSON and 5 FlatBuffers are not spoken) is unsupported;
 * the reserved bytes must be zero; a client that cannot receive `minLength` bytes is refused too.
 */
export function readHandshake(bytes: Uint8Array, minLength: number): ClientHandshake {
  const serializer = bytes[1]! & 0x0f;
  const maxLength = 2 ** (MIN_EXPONENT + (bytes[1]! >> 4));
  if (bytes[2] !== 0 || bytes[3] !== 0) {
    return { ok: false, refusal: RawSocketRefusal.RESERVED_BITS, why: 'reserved handshake bytes set' };
  }
  if (RAWSOCKET_SERIALIZERS[serializer] === undefined) {
    return { ok: false, refusal: RawSocketRefusal.SERIALIZER_UNSUPPORTED, why: `serializer ${serializer}` };
  }
  if (maxLength < minLength) {
    const why = `messages of at most ${maxLength} bytes, below ${minLength}`;
    return { ok: false, refusal: RawSocketRefusal.MAX_LENGTH_UNACCEPTABLE, why };
  }
  return { ok: true, serializer, maxLength };
}

/** The length exponent (0–15) of the smallest length a handshake can announce that is at least `bytes`. */
export function lengthExponent(bytes: number): number {
  let exponent = MIN_EXPONENT;
  while (exponent < MAX_EXPONENT && 2 ** exponent < bytes) exponent++;
  return exponent - MIN_EXPONENT;
}

/** The router's handshake reply: the client's serializer echoed, with the router's length exponent. */
export function handshakeReply(serializer: number, exponent: number): Buffer {
  return Buffer.from([RAWSOCKET_MAGIC, (exponent << 4) | serializer, 0, 0]);
}

/** The router's error reply to a handshake. */
export function refusalReply(refusal: RawSocketRefusal): Buffer {
  return Buffer.from([RAWSOCKET_MAGIC, refusal << 4, 0, 0]);
}

/** A frame header followed by its payload, in one buffer. */
export function encodeRawSocketFrame(type: number, payload: string | Buffer): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const buf = Buffer.allocUnsafe(4 + length);
  if (length === X_LENGTH) {
    buf.writeUInt32BE(0, 0);
    buf[0] = 0x08 | type;
  } else {
    buf.writeUInt32BE(length, 0);
    buf[0] = type;
  }
  if (typeof payload === 'string') buf.write(payload, 4, 'utf8');
  else payload.copy(buf, 4);
  return buf;
}

/** A frame the peer sent against the spec: the connection is failed. */
export class RawSocketViolation extends Error {}

export interface RawSocketFrame {
  readonly type: number;
  readonly payload: Buffer;
}

/**
 * Splits the byte stream after the handshake into frames, checking each header as it completes: the
 * reserved bits clear, a known type, a length no longer than the router announced (a longer one is
 * refused before its bytes are kept). Keeps at most one frame's bytes.
 */
export class RawSocketFrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #header: { type: number; length: number } | undefined;

  constructor(readonly maxLength: number) {}

  /** The frames `chunk` completes, in order; throws `RawSocketViolation` at a bad header. */
  push(chunk: Buffer): RawSocketFrame[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: RawSocketFrame[] = [];
    for (;;) {
      if (this.#header === undefined) {
        if (this.#buffered < 4) break;
        this.#header = this.#readHeader(this.#take(4));
      }
      if (this.#buffered < this.#header.length) break;
      frames.push({ type: this.#header.type, payload: this.#take(this.#header.length) });
      this.#header = undefined;
    }
    return frames;
  }

  #readHeader(header: Buffer): { type: number; length: number } {
    const first = header[0]!;
    if (first & 0xf0) throw new RawSocketViolation('reserved bits set in a frame header');
    const type = first & 0x07;
    if (type > RawSocketFrameType.PONG) throw new RawSocketViolation(`frame type ${type}`);
    let length = header.readUIntBE(1, 3);
    if (first & 0x08) {
      if (length !== 0) throw new RawSocketViolation('length bit 25 set with other length bits');
      length = X_LENGTH;
    }
    if (length > this.maxLength) {
      throw new RawSocketViolation(`a frame of ${length} bytes, over the ${this.maxLength} announced`);
    }
    return { type, length };
  }

  /** The next `n` bytes buffered (`n` at most `#buffered`), copied only when they span chunks. */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.#buffered -= n;
    const head = this.#chunks[0]!;
    if (head.length >= n) {
      if (head.length === n) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(n);
      return head.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#chunks[0]!;
      const used = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, used);
      at += used;
      if (used === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(used);
    }
    return out;
  }
}
