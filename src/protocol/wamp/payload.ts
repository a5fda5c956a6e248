/**
 * A message's application payload (`Arguments`, `ArgumentsKw`), kept in the encoding it arrived in.
 * The router forwards it untouched (WAMP spec, Basic Profile, Messages, Structure): to a peer on the
 * same serializer the original text or bytes are copied as they are, and only a peer on another
 * serializer costs one conversion, done once per serializer and shared by every recipient.
 */

export type SerializerName = 'json' | 'msgpack' | 'cbor';

/** One value encoded by a serializer: JSON text, or MessagePack or CBOR bytes. */
export type Encoded = string | Uint8Array;

/** The part of a serializer a payload needs to convert itself. */
export interface ValueCodec {
  readonly name: SerializerName;
  encodeValue(value: unknown): Encoded;
  decodeValue(raw: Encoded): unknown;
}

/**
 * Where `Arguments` starts, by message type code, for the messages that carry a payload (WAMP spec,
 * Basic Profile, Message Definitions).
 */
export const PAYLOAD_INDEX: Readonly<Partial<Record<number, number>>> = {
  3: 3,
  8: 5,
  16: 4,
  36: 4,
  48: 4,
  50: 3,
  68: 4,
  70: 3,
};

export interface PayloadParts {
  /** Present whenever the message carries a payload: `[]` when only `kwargs` has content. */
  readonly args?: Encoded;
  readonly kwargs?: Encoded;
}

export interface PayloadValues {
  readonly args: unknown[];
  readonly kwargs: Record<string, unknown>;
}

const EMPTY_LIST = Object.freeze([]) as unknown as unknown[];

export class Payload {
  readonly #source: ValueCodec | undefined;
  readonly #parts = new Map<SerializerName, PayloadParts>();
  #values: PayloadValues | undefined;
  #bytes: number | undefined;
  /** Whether `ArgumentsKw` travels on the wire (and so `Arguments` too). */
  readonly hasKwargs: boolean;

  private constructor(source: ValueCodec | undefined, hasKwargs: boolean) {
    this.#source = source;
    this.hasKwargs = hasKwargs;
  }

  /** A payload as received: `args` and `kwargs` are the encoded elements of the message array. */
  static raw(source: ValueCodec, args: Encoded, kwargs: Encoded | undefined): Payload {
    const payload = new Payload(source, kwargs !== undefined);
    payload.#parts.set(source.name, kwargs === undefined ? { args } : { args, kwargs });
    return payload;
  }

  /** A payload the router itself builds (meta API results, error messages). */
  static of(args: unknown[] = [], kwargs?: Record<string, unknown>): Payload {
    const hasKwargs = kwargs !== undefined && Object.keys(kwargs).length > 0;
    const payload = new Payload(undefined, hasKwargs);
    payload.#values = { args, kwargs: kwargs ?? {} };
    return payload;
  }

  /** The payload encoded for `codec`: the received bytes when it is the source serializer. */
  parts(codec: ValueCodec): PayloadParts {
    let parts = this.#parts.get(codec.name);
    if (parts === undefined) {
      const { args, kwargs } = this.values();
      parts = {
        args: codec.encodeValue(args),
        ...(this.hasKwargs ? { kwargs: codec.encodeValue(kwargs) } : {}),
      };
      this.#parts.set(codec.name, parts);
    }
    return parts;
  }

  /**
   * The payload's size in bytes, measured once: as it arrived (JSON text as UTF-8, or MessagePack or
   * CBOR bytes), or encoded by `fallback` when the router built it. What the retention and testament
   * limits count (docs/wamp.md, "Settings").
   */
  byteLength(fallback: ValueCodec): number {
    if (this.#bytes === undefined) {
      const { args, kwargs } = this.parts(this.#source ?? fallback);
      this.#bytes = encodedBytes(args) + encodedBytes(kwargs);
    }
    return this.#bytes;
  }

  /** The decoded values (binary as `Uint8Array`), for the router's own procedures. */
  values(): PayloadValues {
    if (this.#values === undefined) {
      const source = this.#source!;
      const raw = this.#parts.get(source.name)!;
      const args = source.decodeValue(raw.args!);
      const kwargs = raw.kwargs === undefined ? {} : source.decodeValue(raw.kwargs);
      this.#values = {
        args: Array.isArray(args) ? args : EMPTY_LIST,
        kwargs: isDict(kwargs) ? kwargs : {},
      };
    }
    return this.#values;
  }
}

function encodedBytes(value: Encoded | undefined): number {
  if (value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength;
}

export function isDict(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Date)
  );
}
