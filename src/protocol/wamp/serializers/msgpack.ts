import { Decoder, Encoder, ExtensionCodec } from '@msgpack/msgpack';
import { ProtocolViolation } from '../errors.js';
import { type Encoded, PAYLOAD_INDEX, Payload } from '../payload.js';
import { narrowBigInts } from './bigints.js';
import type { Serializer } from './serializer.js';

/**
 * msgpackr, which wampy's MsgpackSerializer encodes with, writes `undefined` as fixext 1 of type 0;
 * read it back as `undefined` so that option values of `undefined` count as absent.
 */
const extensions = new ExtensionCodec();
extensions.register({
  type: 0,
  encode: () => null,
  decode: () => undefined,
});

/** Safe integers go out as integers (uint64 `cf` above 2^32, never float), as autobahn-python needs. */
const encoder = new Encoder({ ignoreUndefined: true, extensionCodec: extensions });
/** IDs are read as BigInt when sent as 64-bit integers, so values past 2^53 are seen as such, not rounded. */
const messageDecoder = new Decoder({ useBigInt64: true, extensionCodec: extensions });
const valueDecoder = new Decoder({ extensionCodec: extensions });

/**
 * `wamp.2.msgpack`: one MessagePack array per binary message (WAMP spec, Basic Profile, WebSocket
 * Transport); str and bin stay distinct (Serializations, MessagePack).
 * Payload elements are copied as raw byte ranges between MessagePack peers.
 */
export const msgpackSerializer: Serializer = {
  id: 'msgpack',
  name: 'msgpack',
  protocol: 'wamp.2.msgpack',
  binary: true,

  decode(data) {
    if (typeof data === 'string') throw new ProtocolViolation('text message on a wamp.2.msgpack session');
    let items: unknown;
    try {
      items = messageDecoder.decode(data);
    } catch (err) {
      throw new ProtocolViolation(`message is not valid MessagePack (${(err as Error).message})`);
    }
    if (!Array.isArray(items) || items.length === 0) {
      throw new ProtocolViolation('message must be a non-empty MessagePack array');
    }
    const code = narrowBigInts(items[0]);
    const at = typeof code === 'number' ? PAYLOAD_INDEX[code] : undefined;
    const fixed = at === undefined ? items.length : Math.min(at, items.length);
    for (let i = 0; i < fixed; i++) items[i] = narrowBigInts(items[i]);
    if (at === undefined || items.length <= at) return { items, payload: undefined };
    const slices = msgpackArraySlices(data);
    const bytes = ([start, end]: [number, number]) => data.subarray(start, end);
    const kwargs = slices[at + 1];
    return { items, payload: Payload.raw(msgpackSerializer, bytes(slices[at]!), kwargs && bytes(kwargs)) };
  },

  encode(items, payload) {
    const head = encoder.encode(items);
    if (payload === undefined) return Buffer.from(head.buffer, head.byteOffset, head.byteLength);
    const { args, kwargs } = payload.parts(msgpackSerializer);
    // Every WAMP message has at most 7 elements: the array header is the single byte 0x90 | n.
    head[0] = 0x90 | (items.length + (kwargs === undefined ? 1 : 2));
    const parts = [head, args as Uint8Array];
    if (kwargs !== undefined) parts.push(kwargs as Uint8Array);
    return Buffer.concat(parts);
  },

  encodeValue(value): Encoded {
    return encoder.encode(value);
  },

  decodeValue(raw) {
    return valueDecoder.decode(raw as Uint8Array);
  },
};

/**
 * `[start, end)` of each element of the top-level array in `buf`, which has already been decoded
 * successfully: walks the headers without building values.
 */
export function msgpackArraySlices(buf: Uint8Array): [number, number][] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const h = buf[0]!;
  let count: number;
  let pos: number;
  if ((h & 0xf0) === 0x90) [count, pos] = [h & 0x0f, 1];
  else if (h === 0xdc) [count, pos] = [view.getUint16(1), 3];
  else if (h === 0xdd) [count, pos] = [view.getUint32(1), 5];
  else throw new ProtocolViolation('message must be a MessagePack array');
  const out: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    const start = pos;
    pos = skipValue(buf, view, pos);
    out.push([start, pos]);
  }
  return out;
}

/** Fixed sizes of the formats 0xc0 to 0xdf that have no length field (0 = has one, or is a container). */
const FIXED_SIZE: Readonly<Record<number, number>> = {
  192: 1,
  194: 1,
  195: 1,
  202: 5,
  203: 9,
  204: 2,
  205: 3,
  206: 5,
  207: 9,
  208: 2,
  209: 3,
  210: 5,
  211: 9,
  212: 3,
  213: 4,
  214: 6,
  215: 10,
  216: 18,
};

/** The offset just past the value at `pos` (containers included), without recursion. */
function skipValue(buf: Uint8Array, view: DataView, start: number): number {
  let pos = start;
  let pending = 1;
  while (pending > 0) {
    pending--;
    const h = buf[pos]!;
    if (h <= 0x7f || h >= 0xe0) pos += 1;
    else if (h <= 0x8f) [pending, pos] = [pending + 2 * (h & 0x0f), pos + 1];
    else if (h <= 0x9f) [pending, pos] = [pending + (h & 0x0f), pos + 1];
    else if (h <= 0xbf) pos += 1 + (h & 0x1f);
    else if (FIXED_SIZE[h] !== undefined) pos += FIXED_SIZE[h];
    else if (h === 0xc4 || h === 0xd9) pos += 2 + buf[pos + 1]!;
    else if (h === 0xc5 || h === 0xda) pos += 3 + view.getUint16(pos + 1);
    else if (h === 0xc6 || h === 0xdb) pos += 5 + view.getUint32(pos + 1);
    else if (h === 0xc7) pos += 3 + buf[pos + 1]!;
    else if (h === 0xc8) pos += 4 + view.getUint16(pos + 1);
    else if (h === 0xc9) pos += 6 + view.getUint32(pos + 1);
    else if (h === 0xdc) [pending, pos] = [pending + view.getUint16(pos + 1), pos + 3];
    else if (h === 0xdd) [pending, pos] = [pending + view.getUint32(pos + 1), pos + 5];
    else if (h === 0xde) [pending, pos] = [pending + 2 * view.getUint16(pos + 1), pos + 3];
    else if (h === 0xdf) [pending, pos] = [pending + 2 * view.getUint32(pos + 1), pos + 5];
    else throw new ProtocolViolation(`invalid MessagePack byte 0x${h.toString(16)}`);
  }
  return pos;
}
