import { ProtocolViolation } from '../errors.js';
import { type Encoded, PAYLOAD_INDEX, Payload } from '../payload.js';
import type { Serializer } from './serializer.js';

/**
 * `wamp.2.json`: one JSON array per text message (WAMP spec, Basic Profile, WebSocket Transport).
 * Binary payload values use the WAMP convention, a string of U+0000 followed by base64 (WAMP spec,
 * Binary conversion of JSON Strings); they are converted only when a payload crosses to another
 * serializer, so JSON-to-JSON traffic is copied verbatim.
 */
export const jsonSerializer: Serializer = {
  id: 'json',
  name: 'json',
  protocol: 'wamp.2.json',
  binary: false,

  decode(data) {
    if (typeof data !== 'string') throw new ProtocolViolation('binary message on a wamp.2.json session');
    let items: unknown;
    try {
      items = JSON.parse(data);
    } catch (err) {
      throw new ProtocolViolation(`message is not valid JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(items) || items.length === 0) {
      throw new ProtocolViolation('message must be a non-empty JSON array');
    }
    const at = typeof items[0] === 'number' ? PAYLOAD_INDEX[items[0]] : undefined;
    if (at === undefined || items.length <= at) return { items, payload: undefined };
    const slices = jsonArraySlices(data);
    const text = ([start, end]: [number, number]) => data.slice(start, end);
    const kwargs = slices[at + 1];
    return { items, payload: Payload.raw(jsonSerializer, text(slices[at]!), kwargs && text(kwargs)) };
  },

  encode(items, payload) {
    const head = JSON.stringify(items);
    if (payload === undefined) return head;
    const { args, kwargs } = payload.parts(jsonSerializer);
    return `${head.slice(0, -1)},${args as string}${kwargs === undefined ? '' : `,${kwargs as string}`}]`;
  },

  encodeValue(value): Encoded {
    return JSON.stringify(value, toJsonValue);
  },

  decodeValue(raw) {
    return JSON.parse(raw as string, fromJsonValue);
  },
};

/** Bytes become `"\u0000" + base64`; BigInts (from MessagePack uint64) become numbers. */
function toJsonValue(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof Uint8Array) {
    return `\u0000${Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64')}`;
  }
  if (typeof value === 'bigint') return Number(value);
  return value;
}

function fromJsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'string' && value.charCodeAt(0) === 0) return Buffer.from(value.slice(1), 'base64');
  return value;
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * `[start, end)` of each element of the top-level array in `text`, which `JSON.parse` has already
 * accepted: a scan for commas outside strings and nested containers, without building any value.
 */
export function jsonArraySlices(text: string): [number, number][] {
  const out: [number, number][] = [];
  let i = text.indexOf('[') + 1;
  let start = i;
  let depth = 0;
  const push = (from: number, to: number) => {
    let a = from;
    let b = to;
    while (a < b && isSpace(text.charCodeAt(a))) a++;
    while (b > a && isSpace(text.charCodeAt(b - 1))) b--;
    if (a < b) out.push([a, b]);
  };
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = closingQuote(text, i);
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
    } else if (c === 0x5d || c === 0x7d) {
      if (depth === 0) {
        push(start, i);
        break;
      }
      depth--;
    } else if (c === 0x2c && depth === 0) {
      push(start, i);
      start = i + 1;
    }
  }
  return out;
}

/** Index of the quote closing the string that opens at `open` (a quote after an odd run of backslashes is escaped). */
function closingQuote(text: string, open: number): number {
  let from = open + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    let backslashes = 0;
    for (let b = q - 1; text.charCodeAt(b) === 0x5c; b--) backslashes++;
    if (backslashes % 2 === 0) return q;
    from = q + 1;
  }
}
