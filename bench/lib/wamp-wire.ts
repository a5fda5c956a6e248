/**
 * WAMP on the wire for the bench's own clients: the serializers (`wamp.2.json`, `wamp.2.msgpack`,
 * `wamp.2.cbor`) and the bench payload. CBOR's `cbor-x` is loaded when a CBOR variant runs; where it
 * is not installed those variants are skipped with a note.
 */
import { decode as decodeMsgpack, encode as encodeMsgpack } from '@msgpack/msgpack';

export const WAMP_SERIALIZERS = ['json', 'msgpack', 'cbor'] as const;
export type WampSerializer = (typeof WAMP_SERIALIZERS)[number];

/** One serializer: the subprotocol it is offered as, and its messages as text or bytes. */
export interface WampCodec {
  serializer: WampSerializer;
  protocol: string;
  /** Binary WebSocket messages (MessagePack, CBOR), or text ones (JSON). */
  binary: boolean;
  encode(message: unknown[]): string | Uint8Array;
  decode(data: Buffer): unknown[];
}

/**
 * The argument the bench publishes and calls with: `wb|<sequence number>|<µs when sent>|`. A string of
 * ASCII reads as the same bytes in JSON, MessagePack and CBOR, so a load client finds the sequence
 * number and the time in an EVENT or RESULT without decoding the message (see worker.ts `digits`).
 */
export const benchArgument = (seq: number, sentUs: number): string => `wb|${seq}|${sentUs}|`;
export const BENCH_MARK = Buffer.from('wb|');

const json: WampCodec = {
  serializer: 'json',
  protocol: 'wamp.2.json',
  binary: false,
  encode: (message) => JSON.stringify(message),
  decode: (data) => JSON.parse(data.toString('utf8')) as unknown[],
};

const msgpack: WampCodec = {
  serializer: 'msgpack',
  protocol: 'wamp.2.msgpack',
  binary: true,
  encode: (message) => encodeMsgpack(message),
  decode: (data) => decodeMsgpack(data) as unknown[],
};

/** What the bench uses of `cbor-x`. */
interface CborX {
  Encoder: new (options: {
    useRecords: boolean;
  }) => {
    encode(value: unknown): Uint8Array;
    decode(data: Uint8Array): unknown;
  };
}

/**
 * `cbor-x` writes integers past 32 bits as floats unless they are BigInts, and reads them back as
 * BigInts: IDs (the top-level integers of a message) cross as BigInts and are numbers in between.
 */
async function cbor(): Promise<WampCodec | string> {
  const name = 'cbor-x';
  let cborX: CborX;
  try {
    cborX = (await import(name)) as CborX;
  } catch {
    return 'cbor-x is not installed, so the bench has no CBOR encoder';
  }
  const codec = new cborX.Encoder({ useRecords: false });
  return {
    serializer: 'cbor',
    protocol: 'wamp.2.cbor',
    binary: true,
    encode: (message) =>
      codec.encode(
        message.map((x) => (Number.isInteger(x) && (x as number) > 0xffff_ffff ? BigInt(x as number) : x)),
      ),
    decode: (data) => (codec.decode(data) as unknown[]).map((x) => (typeof x === 'bigint' ? Number(x) : x)),
  };
}

/** The codec of `serializer`, or why the bench has none. */
export async function wampCodec(serializer: string): Promise<WampCodec | string> {
  if (serializer === 'json') return json;
  if (serializer === 'msgpack') return msgpack;
  if (serializer === 'cbor') return cbor();
  return `unknown serializer "${serializer}" (${WAMP_SERIALIZERS.join(', ')})`;
}

export const JSON_CODEC = json;
