import type { Payload, ValueCodec } from '../payload.js';

/**
 * A WAMP serializer (WAMP spec, Basic Profile, Serializations): pure functions between wire messages and
 * arrays.
 */
export interface Serializer extends ValueCodec {
  /** Tells its encodings apart (an outgoing message is encoded once per id). */
  readonly id: string;
  /** The WebSocket subprotocol that selects it. */
  readonly protocol: string;
  /** Whether messages travel in binary WebSocket frames. */
  readonly binary: boolean;
  /**
   * One wire message to its elements, all decoded (payload included, for type checks), plus the
   * payload kept in its received encoding. Throws `ProtocolViolation` on anything that is not a
   * non-empty array in this serializer's format.
   */
  decode(data: string | Uint8Array): Decoded;
  /** `items` (no payload, no binary values) followed by the payload's elements, as one wire message. */
  encode(items: readonly unknown[], payload: Payload | undefined): string | Buffer;
  /** Batched serializers: the messages of one wire message, each for `decode`. */
  split?(data: string | Uint8Array): (string | Uint8Array)[];
  /** Batched serializers: the serializer to answer with, given the client's first wire message. */
  replyAs?(data: string | Uint8Array): Serializer;
}

export interface Decoded {
  readonly items: unknown[];
  readonly payload: Payload | undefined;
}
