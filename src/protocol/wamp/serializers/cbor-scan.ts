import { ProtocolViolation } from '../errors.js';

/**
 * The structure of one `wamp.2.cbor` message, checked before any value is built (RFC 8949 for the
 * encoding). A message is one array; inside it, what the router can carry to every serializer:
 * integers, floats, strings, byte strings, arrays, maps with text or integer keys, `false`, `true`,
 * `null` and `undefined`, of definite or indefinite length (strings only definite). The one tag
 * accepted is 64, a byte string typed as `Uint8Array`, which autobahn-js writes for binary values
 * (read as a plain byte string);
 * every other tag (dates, bignums, shared references that could make cycles, and so on) is refused, as
 * are simple values beyond those four and the key `__proto__` (docs/wamp.md, "Serializers").
 */
export interface CborShape {
  /** `[start, end)` of each element of the message array. */
  readonly slices: [number, number][];
  /**
   * How deep each element nests, counted as `exceedsDepth` counts a decoded value: a scalar is one
   * level, a container one more than its deepest element, an empty container one.
   */
  readonly depths: number[];
  /** Whether each element holds a tag 64 somewhere. */
  readonly tagged: boolean[];
}

/** The tag of a typed `Uint8Array` (RFC 8746), the only one accepted. */
const TAG_UINT8ARRAY = 64;
/** The UTF-8 bytes of `__proto__`, a key no decoder may be handed. */
const PROTO_KEY = Buffer.from('__proto__');

/** An open container: items still expected (-1: until a break), and whether a map key comes next. */
interface Open {
  left: number;
  readonly map: boolean;
  key: boolean;
}

const fail = (what: string): never => {
  throw new ProtocolViolation(`message is not valid CBOR for WAMP (${what})`);
};

/**
 * Checks that `buf` is exactly one CBOR array within the subset above, and returns the extent and
 * depth of each element. Walks without recursion and without building values, so that neither a
 * deep nor a long message costs more than one pass over its bytes.
 */
export function scanCborMessage(buf: Uint8Array): CborShape {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const slices: [number, number][] = [];
  const depths: number[] = [];
  const taggedElements: boolean[] = [];
  let elementTagged = false;
  /** The message array is `stack[0]`; an element of it is read while `stack.length === 1`. */
  const stack: Open[] = [];
  let pos = 0;
  let elementStart = 0;
  let elementDepth = 0;
  /** A tag 64 was read: the next item must be a byte string. */
  let tagged = false;

  /** The argument of the head at `pos` (a count, a length or a value), and `pos` moved past the head. */
  const argument = (info: number): number => {
    if (info < 24) {
      pos += 1;
      return info;
    }
    const size =
      info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : fail('reserved head');
    if (pos + 1 + size > buf.length) fail('truncated');
    const at = pos + 1;
    pos += 1 + size;
    if (size === 1) return buf[at]!;
    if (size === 2) return view.getUint16(at);
    if (size === 4) return view.getUint32(at);
    // A length or count this large cannot fit in the message: the checks against the bytes left fail.
    return view.getUint32(at) * 2 ** 32 + view.getUint32(at + 4);
  };

  /** An item is complete: counts it in its container, closing every container it completes. */
  const complete = (): boolean => {
    for (;;) {
      const top = stack.at(-1);
      if (top === undefined) return true;
      if (stack.length === 1) {
        slices.push([elementStart, pos]);
        depths.push(elementDepth);
        taggedElements.push(elementTagged);
      }
      if (top.map) top.key = !top.key;
      if (top.left > 0) top.left--;
      if (top.left !== 0) return false;
      stack.pop();
    }
  };

  if (buf.length === 0 || buf[0]! >> 5 !== 4) fail('a message must be an array');
  while (pos < buf.length) {
    const head = buf[pos]!;
    const major = head >> 5;
    const info = head & 0x1f;
    const top = stack.at(-1);
    let done = false;
    if (head === 0xff) {
      // A break closes the innermost indefinite container, between a map's entries only.
      if (top === undefined || top.left !== -1 || (top.map && !top.key) || tagged) fail('unexpected break');
      pos += 1;
      stack.pop();
      done = complete();
    } else {
      if (top?.map && top.key) {
        if (major !== 0 && major !== 1 && major !== 3) fail('map keys must be text or integers');
      }
      if (tagged && major !== 2) fail('tag 64 must wrap a byte string');
      const level = stack.length;
      if (level === 1 && !tagged) {
        elementStart = pos;
        elementDepth = 0;
        elementTagged = false;
      }
      if (level > elementDepth) elementDepth = level;
      if (info === 31) {
        if (major !== 4 && major !== 5) {
          fail(major === 2 || major === 3 ? 'indefinite-length strings' : 'reserved head');
        }
        pos += 1;
        stack.push({ left: -1, map: major === 5, key: major === 5 });
        continue;
      }
      const value = argument(info);
      switch (major) {
        case 2:
        case 3:
          if (value > buf.length - pos) fail('truncated');
          if (major === 3 && top?.map && top.key && isProtoKey(buf, pos, value)) {
            fail('the key __proto__ is not allowed');
          }
          pos += value;
          tagged = false;
          break;
        case 4:
        case 5: {
          const items = major === 5 ? value * 2 : value;
          if (items > buf.length - pos) fail('truncated');
          if (items > 0) {
            stack.push({ left: items, map: major === 5, key: major === 5 });
            continue;
          }
          break;
        }
        case 6:
          if (value !== TAG_UINT8ARRAY || level === 0) fail(`tag ${value} is not supported`);
          tagged = true;
          elementTagged = true;
          continue;
        case 7:
          // false, true, null, undefined; half, single and double precision floats.
          if (info < 20 || info === 24) fail('simple values other than false, true, null, undefined');
          break;
      }
      done = complete();
    }
    if (done) {
      if (pos !== buf.length) fail('bytes after the message');
      return { slices, depths, tagged: taggedElements };
    }
  }
  return fail('truncated');
}

function isProtoKey(buf: Uint8Array, at: number, length: number): boolean {
  if (length !== PROTO_KEY.length) return false;
  for (let i = 0; i < length; i++) if (buf[at + i] !== PROTO_KEY[i]) return false;
  return true;
}
