import { Frame } from '../../core/frame.js';
import type { Payload, SerializerName } from './payload.js';
import { jsonSerializer } from './serializers/json.js';
import { msgpackSerializer } from './serializers/msgpack.js';
import type { Serializer } from './serializers/serializer.js';

export type { Decoded, Serializer } from './serializers/serializer.js';

/** The serializers by WebSocket subprotocol, in the order the router prefers them. */
export const SERIALIZERS: ReadonlyMap<string, Serializer> = new Map([
  [jsonSerializer.protocol, jsonSerializer],
  [msgpackSerializer.protocol, msgpackSerializer],
]);

/** The subprotocols the WAMP route offers. */
export const WAMP_PROTOCOLS: readonly string[] = [...SERIALIZERS.keys()];

/**
 * One outgoing message, encoded at most once per serializer: an EVENT to N subscribers costs one
 * encoding (two when both JSON and MessagePack sessions receive it) and N writes of the same Frame.
 */
export class Outgoing {
  readonly #frames: Partial<Record<SerializerName, Frame>> = {};

  constructor(
    readonly items: readonly unknown[],
    readonly payload?: Payload,
  ) {}

  frame(serializer: Serializer): Frame {
    let frame = this.#frames[serializer.name];
    if (frame === undefined) {
      frame = new Frame(serializer.encode(this.items, this.payload));
      this.#frames[serializer.name] = frame;
    }
    return frame;
  }
}
