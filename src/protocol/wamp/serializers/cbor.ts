import { Decoder, Encoder, type Options } from 'cbor-x';
import { MAX_PAYLOAD_DEPTH } from '../depth.js';
import { ProtocolViolation } from '../errors.js';
import { type Encoded, PAYLOAD_INDEX, Payload } from '../payload.js';
import { narrowBigInts } from './bigints.js';
import { scanCborMessage } from './cbor-scan.js';
import type { Serializer } from './serializer.js';

/** Plain maps and arrays both ways; byte strings without tag 64; map heads as short as the spec's samples. */
const common: Options = { useRecords: false, mapsAsObjects: true };
const encoder = new Encoder({ ...common, variableMapSize: true, tagUint8Array: false });
/** 64-bit integers as BigInt, so that values past 2^53 are seen as such (see `narrowBigInts`). */
const messageDecoder = new Decoder(common);
/** Payload values for other serializers: 64-bit integers as numbers, as the MessagePack serializer reads them. */
const valueDecoder = new Decoder({ ...common, int64AsNumber: true } as Options);

/**
 * `wamp.2.cbor`: one CBOR array per binary message (WAMP spec, Basic Profile, WebSocket Transport;
 * Serializations, CBOR). The structure is checked first (`scanCborMessage`), then each element is
 * decoded on its own. Payload elements are copied as raw byte ranges between CBOR peers; byte strings
 * become `"\0" + base64` for JSON peers and bin for MessagePack peers (WAMP spec, Binary conversion of
 * JSON Strings).
 */
export const cborSerializer: Serializer = {
  id: 'cbor',
  name: 'cbor',
  protocol: 'wamp.2.cbor',
  binary: true,

  decode(data) {
    if (typeof data === 'string') throw new ProtocolViolation('text message on a wamp.2.cbor session');
    const { slices, depths, tagged } = scanCborMessage(data);
    if (slices.length === 0) throw new ProtocolViolation('message must be a non-empty CBOR array');
    const bytes = ([start, end]: [number, number]) => data.subarray(start, end);
    const code = narrowBigInts(decodeElement(bytes(slices[0]!)));
    const at = typeof code === 'number' ? PAYLOAD_INDEX[code] : undefined;
    const items = slices.map((slice, i) => {
      const inPayload = at !== undefined && i >= at;
      if (depths[i]! > MAX_PAYLOAD_DEPTH) {
        if (!inPayload)
          throw new ProtocolViolation(`element ${i} nests deeper than ${MAX_PAYLOAD_DEPTH} levels`);
        // Not built (it could be deep enough to overflow the decoder's stack): the realm refuses it.
        return tooDeep(data[slice[0]]! >> 5 === 5);
      }
      const value = i === 0 ? code : decodeElement(bytes(slice));
      return inPayload ? value : narrowBigInts(value);
    });
    if (at === undefined || items.length <= at) return { items, payload: undefined };
    // A tag 64 is passed on as the plain byte string it stands for, which every CBOR decoder reads as
    // bytes (cbor2, autobahn-python's, reads the tag as an opaque CBORTag).
    const raw = (i: number) => {
      const slice = slices[i];
      if (slice === undefined) return undefined;
      return tagged[i] && depths[i]! <= MAX_PAYLOAD_DEPTH
        ? cborSerializer.encodeValue(items[i])
        : bytes(slice);
    };
    return { items, payload: Payload.raw(cborSerializer, raw(at)!, raw(at + 1)) };
  },

  encode(items, payload) {
    const head = encoder.encode(forCbor(items));
    if (payload === undefined) return head;
    const { args, kwargs } = payload.parts(cborSerializer);
    // Every WAMP message has at most 7 elements: the array head is the single byte 0x80 | n.
    head[0] = 0x80 | (items.length + (kwargs === undefined ? 1 : 2));
    const parts = [head, args as Uint8Array];
    if (kwargs !== undefined) parts.push(kwargs as Uint8Array);
    return Buffer.concat(parts);
  },

  encodeValue(value): Encoded {
    // A copy: the encoder's result shares a larger buffer, which a kept payload would hold on to.
    return encoder.encode(forCbor(value)).slice();
  },

  decodeValue(raw) {
    return valueDecoder.decode(raw as Uint8Array);
  },
};

/** One element, already checked by `scanCborMessage`; what the decoder still refuses is a violation. */
function decodeElement(bytes: Uint8Array): unknown {
  try {
    return messageDecoder.decode(bytes);
  } catch (err) {
    throw new ProtocolViolation(`message is not valid CBOR (${(err as Error).message})`);
  }
}

/** A list (or a dict holding one) nested one level deeper than `MAX_PAYLOAD_DEPTH`. */
function tooDeep(dict: boolean): unknown {
  let value: unknown[] = [];
  for (let level = 1; level <= MAX_PAYLOAD_DEPTH - (dict ? 1 : 0); level++) value = [value];
  return dict ? { '': value } : value;
}

/**
 * `value` as cbor-x must be given it: safe integers past 32 bits as BigInt, since cbor-x writes any
 * larger number as a float64, which autobahn-python refuses where it expects an ID (WAMP spec, Basic
 * Profile, IDs: integers up to 2^53); map entries whose value is `undefined` left out and `undefined`
 * list items as null, as the other serializers write them. Returns `value` itself when nothing in it
 * changes. Recursive: payloads are held to `MAX_PAYLOAD_DEPTH` before they are delivered.
 */
function forCbor(value: unknown): unknown {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && (value > 0xffff_ffff || value < -0x1_0000_0000)
      ? BigInt(value)
      : value;
  }
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item: unknown, i) => {
      const changed = item === undefined ? null : forCbor(item);
      if (changed === item) return;
      copy ??= [...value];
      copy[i] = changed;
    });
    return copy ?? value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)
    return value;
  const dict = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(dict)) {
    const item = dict[key];
    const changed = item === undefined ? undefined : forCbor(item);
    if (changed === item && item !== undefined) continue;
    copy ??= { ...dict };
    // A key may be `__proto__` (JSON.parse makes it an own property): defined, never assigned.
    if (changed === undefined) delete copy[key];
    else
      Object.defineProperty(copy, key, {
        value: changed,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return copy ?? value;
}
