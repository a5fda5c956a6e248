import { HeraldError } from '../core/errors.js';

/**
 * What came over the cluster bus cannot be used: wrong shape, wrong types, a frame no client may get.
 * Anyone who can publish on the broker can send anything, so handlers check what they receive and
 * throw this; the cluster layer drops the message and logs it at warn with its topic.
 */
export class MalformedBusMessage extends HeraldError {
  constructor(message: string) {
    super('malformed_bus_message', message);
  }
}

type Kind = 'string' | 'string?' | 'array' | 'dict' | 'dict?' | 'unknown';

type Typed<K extends Kind> = K extends 'string'
  ? string
  : K extends 'string?'
    ? string | undefined
    : K extends 'array'
      ? unknown[]
      : K extends 'dict'
        ? Record<string, unknown>
        : K extends 'dict?'
          ? Record<string, unknown> | undefined
          : unknown;

const isDict = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function fits(kind: Kind, value: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'string?':
      return value === undefined || typeof value === 'string';
    case 'array':
      return Array.isArray(value);
    case 'dict':
      return isDict(value);
    case 'dict?':
      return value === undefined || isDict(value);
    case 'unknown':
      return true;
  }
}

/**
 * The fields of a request or broadcast payload from another node, checked against `shape` (extra
 * fields are ignored); throws `MalformedBusMessage` naming the operation and the first wrong field.
 */
export function busFields<S extends Record<string, Kind>>(
  op: string,
  payload: unknown,
  shape: S,
): { [F in keyof S]: Typed<S[F]> } {
  if (!isDict(payload)) throw new MalformedBusMessage(`${op}: the payload must be an object`);
  for (const [field, kind] of Object.entries(shape)) {
    if (!fits(kind, payload[field])) throw new MalformedBusMessage(`${op}: ${field} must be ${kind}`);
  }
  return payload as { [F in keyof S]: Typed<S[F]> };
}
