import { ProtocolViolation } from '../errors.js';
import { cborSerializer } from './cbor.js';
import { jsonSerializer } from './json.js';
import { msgpackSerializer } from './msgpack.js';
import type { Serializer } from './serializer.js';

/**
 * The record separator after each JSON message of a batch (WAMP spec, Advanced Profile, Message Batching).
 */
const RS = '\x1e';
/**
 * What autobahn-python writes instead (`b'\30'` is octal): accepted, and answered in kind
 * (docs/wamp.md, Connecting clients).
 */
const AUTOBAHN_PYTHON_SEPARATOR = '\x18';

/** `wamp.2.json.batched`: JSON messages, each followed by `separator`; a batch of one on the way out. */
function jsonBatched(separator: string): Serializer {
  const self: Serializer = {
    ...jsonSerializer,
    id: `json.batched.${separator.charCodeAt(0).toString(16)}`,
    protocol: 'wamp.2.json.batched',
    split(data) {
      if (typeof data !== 'string')
        throw new ProtocolViolation('binary message on a wamp.2.json.batched session');
      const sep = data.includes(RS) ? RS : AUTOBAHN_PYTHON_SEPARATOR;
      const parts = data.split(sep);
      if (parts.pop() !== '' || parts.length === 0) {
        throw new ProtocolViolation('a batch must hold messages, each followed by a separator');
      }
      return parts;
    },
    replyAs(data) {
      return typeof data === 'string' && !data.includes(RS) && data.includes(AUTOBAHN_PYTHON_SEPARATOR)
        ? jsonBatchedForAutobahnPython
        : self;
    },
    encode(items, payload) {
      return `${jsonSerializer.encode(items, payload) as string}${separator}`;
    },
  };
  return self;
}

export const jsonBatchedSerializer = jsonBatched(RS);
const jsonBatchedForAutobahnPython = jsonBatched(AUTOBAHN_PYTHON_SEPARATOR);

/**
 * `wamp.2.msgpack.batched` and `wamp.2.cbor.batched`: messages of `base`, each after its length as a
 * uint32, big-endian (WAMP spec, Advanced Profile, Message Batching; the spec leaves CBOR's framing
 * unwritten, and autobahn-python frames it as MessagePack's).
 */
function lengthPrefixed(base: Serializer): Serializer {
  const protocol = `${base.protocol}.batched`;
  return {
    ...base,
    id: `${base.id}.batched`,
    protocol,
    split(data) {
      if (typeof data === 'string') throw new ProtocolViolation(`text message on a ${protocol} session`);
      const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const parts: Uint8Array[] = [];
      let at = 0;
      while (at < bytes.length) {
        if (bytes.length - at < 4) throw new ProtocolViolation('a batch ends inside a length');
        const length = bytes.readUInt32BE(at);
        at += 4;
        if (bytes.length - at < length) throw new ProtocolViolation('a batch ends inside a message');
        parts.push(bytes.subarray(at, at + length));
        at += length;
      }
      if (parts.length === 0) throw new ProtocolViolation('a batch must hold at least one message');
      return parts;
    },
    encode(items, payload) {
      const message = base.encode(items, payload) as Buffer;
      const length = Buffer.allocUnsafe(4);
      length.writeUInt32BE(message.length, 0);
      return Buffer.concat([length, message]);
    },
  };
}

export const msgpackBatchedSerializer = lengthPrefixed(msgpackSerializer);
export const cborBatchedSerializer = lengthPrefixed(cborSerializer);
