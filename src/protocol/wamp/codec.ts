import { Frame } from '../../core/frame.js';
import type { Payload } from './payload.js';
import {
  cborBatchedSerializer,
  jsonBatchedSerializer,
  msgpackBatchedSerializer,
} from './serializers/batched.js';
import { cborSerializer } from './serializers/cbor.js';
import { jsonSerializer } from './serializers/json.js';
import { msgpackSerializer } from './serializers/msgpack.js';
import type { Serializer } from './serializers/serializer.js';

export type { Decoded, Serializer } from './serializers/serializer.js';

/** The serializers by WebSocket subprotocol, in the order the router prefers them. */
export const SERIALIZERS: ReadonlyMap<string, Serializer> = new Map([
  [jsonSerializer.protocol, jsonSerializer],
  [msgpackSerializer.protocol, msgpackSerializer],
  [cborSerializer.protocol, cborSerializer],
  [jsonBatchedSerializer.protocol, jsonBatchedSerializer],
  [msgpackBatchedSerializer.protocol, msgpackBatchedSerializer],
  [cborBatchedSerializer.protocol, cborBatchedSerializer],
]);

/** The subprotocols the WAMP route offers. */
export const WAMP_PROTOCOLS: readonly string[] = [...SERIALIZERS.keys()];

/**
 * One outgoing message, encoded at most once per serializer: an EVENT to N subscribers costs one
 * encoding (one more for each other serializer its sessions use) and N writes of the same Frame.
 */
export class Outgoing {
  /** Each serializer's encoding, or the error encoding failed with (thrown again, not retried). */
  readonly #frames: Partial<Record<string, Frame | Error>> = {};

  constructor(
    readonly items: readonly unknown[],
    readonly payload?: Payload,
  ) {}

  frame(serializer: Serializer): Frame {
    let frame = this.#frames[serializer.id];
    if (frame === undefined) {
      try {
        frame = new Frame(serializer.encode(this.items, this.payload));
      } catch (err) {
        frame = err instanceof Error ? err : new Error(String(err));
      }
      this.#frames[serializer.id] = frame;
    }
    if (frame instanceof Error) throw frame;
    return frame;
  }
}
