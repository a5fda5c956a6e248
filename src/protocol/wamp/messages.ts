import { Outgoing } from './codec.js';
import { exceedsDepth, MAX_PAYLOAD_DEPTH } from './depth.js';
import { ProtocolViolation } from './errors.js';
import { isId } from './ids.js';
import { isDict, Payload } from './payload.js';

/** WAMP message type codes (WAMP spec, Basic Profile, Message Codes and Direction). */
export const MessageType = {
  HELLO: 1,
  WELCOME: 2,
  ABORT: 3,
  CHALLENGE: 4,
  AUTHENTICATE: 5,
  GOODBYE: 6,
  ERROR: 8,
  PUBLISH: 16,
  PUBLISHED: 17,
  SUBSCRIBE: 32,
  SUBSCRIBED: 33,
  UNSUBSCRIBE: 34,
  UNSUBSCRIBED: 35,
  EVENT: 36,
  CALL: 48,
  CANCEL: 49,
  RESULT: 50,
  REGISTER: 64,
  REGISTERED: 65,
  UNREGISTER: 66,
  UNREGISTERED: 67,
  INVOCATION: 68,
  INTERRUPT: 69,
  YIELD: 70,
} as const;

const T = MessageType;
export type Dict = Record<string, unknown>;

/** A client's ERROR: a callee's failure of an INVOCATION (anything else is a protocol violation). */
export interface CalleeError {
  requestType: number;
  request: number;
  details: Dict;
  error: string;
  payload?: Payload | undefined;
}

/** Messages a client may send, checked for element count and types. */
export type ClientMessage =
  | { type: 1; realm: string; details: Dict }
  | { type: 3; details: Dict; reason: string }
  | { type: 5; signature: string; extra: Dict }
  | { type: 6; details: Dict; reason: string }
  | ({ type: 8 } & CalleeError & Carried)
  | ({ type: 16; request: number; options: Dict; topic: string } & Carried)
  | { type: 32; request: number; options: Dict; topic: string }
  | { type: 34; request: number; subscription: number }
  | ({ type: 48; request: number; options: Dict; procedure: string } & Carried)
  | { type: 49; request: number; options: Dict }
  | { type: 64; request: number; options: Dict; procedure: string }
  | { type: 66; request: number; registration: number }
  | ({ type: 70; request: number; options: Dict } & Carried);

/** The payload of a message that may carry one. */
interface Carried {
  payload?: Payload;
  /**
   * Set when `Arguments` or `ArgumentsKw` nests deeper than `MAX_PAYLOAD_DEPTH`: the message is
   * well-formed, but its payload could not be delivered to every serializer, so the realm refuses it.
   */
  tooDeep?: true;
}

/** The refusal of a payload past `MAX_PAYLOAD_DEPTH` (`wamp.error.invalid_argument`: payload validation). */
export const TOO_DEEP_MESSAGE = `payload nests deeper than ${MAX_PAYLOAD_DEPTH} levels`;

/** Element count range and element kinds after the type code, for each client message. */
const LAYOUTS: Readonly<Partial<Record<number, { kinds: string; max: number }>>> = {
  [T.HELLO]: { kinds: 'sd', max: 3 },
  [T.ABORT]: { kinds: 'ds', max: 5 },
  [T.AUTHENTICATE]: { kinds: 'sd', max: 3 },
  [T.GOODBYE]: { kinds: 'ds', max: 3 },
  [T.ERROR]: { kinds: 'nids', max: 7 },
  [T.PUBLISH]: { kinds: 'ids', max: 6 },
  [T.SUBSCRIBE]: { kinds: 'ids', max: 4 },
  [T.UNSUBSCRIBE]: { kinds: 'ii', max: 3 },
  [T.CALL]: { kinds: 'ids', max: 6 },
  [T.CANCEL]: { kinds: 'id', max: 3 },
  [T.REGISTER]: { kinds: 'ids', max: 4 },
  [T.UNREGISTER]: { kinds: 'ii', max: 3 },
  [T.YIELD]: { kinds: 'id', max: 5 },
};

const KIND_NAMES: Record<string, string> = { s: 'a string', d: 'a dict', i: 'an ID', n: 'an integer' };

function checkKind(kind: string, value: unknown): boolean {
  switch (kind) {
    case 's':
      return typeof value === 'string';
    case 'd':
      return isDict(value);
    case 'i':
      return isId(value);
    default:
      return typeof value === 'number' && Number.isInteger(value) && value >= 0;
  }
}

/**
 * Checks a decoded message against its layout (WAMP spec, Basic Profile, Messages) and names its
 * fields. Router-only codes, unknown codes, wrong counts and wrong types are protocol violations (WAMP
 * spec, Basic Profile, Protocol errors).
 */
export function parseMessage(items: unknown[], payload: Payload | undefined): ClientMessage {
  const type = items[0];
  const layout = typeof type === 'number' ? LAYOUTS[type] : undefined;
  if (layout === undefined) throw new ProtocolViolation(`unexpected message type ${String(type)}`);
  const fixed = layout.kinds.length + 1;
  if (items.length < fixed || items.length > layout.max) {
    throw new ProtocolViolation(`message type ${type} with ${items.length} elements`);
  }
  for (let i = 1; i < fixed; i++) {
    const kind = layout.kinds[i - 1]!;
    if (!checkKind(kind, items[i])) {
      throw new ProtocolViolation(`element ${i} of message type ${type} must be ${KIND_NAMES[kind]}`);
    }
  }
  if (items.length > fixed && !Array.isArray(items[fixed])) {
    throw new ProtocolViolation(`Arguments of message type ${type} must be a list`);
  }
  if (items.length > fixed + 1 && !isDict(items[fixed + 1])) {
    throw new ProtocolViolation(`ArgumentsKw of message type ${type} must be a dict`);
  }
  const [, a, b, c, d] = items as [number, never, never, never, never];
  const tooDeep =
    items.length > fixed && (exceedsDepth(items[fixed]) || exceedsDepth(items[fixed + 1] ?? null));
  const p = { ...(payload === undefined ? {} : { payload }), ...(tooDeep ? { tooDeep: true as const } : {}) };
  switch (type) {
    case T.HELLO:
      return { type, realm: a, details: b };
    case T.ABORT:
    case T.GOODBYE:
      return { type, details: a, reason: b };
    case T.AUTHENTICATE:
      return { type, signature: a, extra: b };
    case T.ERROR:
      return { type, requestType: a, request: b, details: c, error: d, ...p };
    case T.PUBLISH:
    case T.SUBSCRIBE:
      return { type, request: a, options: b, topic: c, ...p } as ClientMessage;
    case T.CALL:
    case T.REGISTER:
      return { type, request: a, options: b, procedure: c, ...p } as ClientMessage;
    case T.UNSUBSCRIBE:
      return { type, request: a, subscription: b };
    case T.UNREGISTER:
      return { type, request: a, registration: b };
    case T.CANCEL:
      return { type, request: a, options: b };
    default:
      return { type: T.YIELD, request: a, options: b, ...p };
  }
}

/** Builders of router messages. Details and options never hold `undefined` values. */
export const out = {
  welcome: (session: number, details: Dict) => new Outgoing([T.WELCOME, session, details]),
  abort: (reason: string, message: string) => new Outgoing([T.ABORT, { message }, reason]),
  challenge: (method: string, extra: Dict) => new Outgoing([T.CHALLENGE, method, extra]),
  goodbye: (reason: string, details: Dict = {}) => new Outgoing([T.GOODBYE, details, reason]),
  error: (requestType: number, request: number, uri: string, payload?: Payload, details: Dict = {}) =>
    new Outgoing([T.ERROR, requestType, request, details, uri], payload),
  /** ERROR carrying the router's explanation as its only argument. */
  refusal: (requestType: number, request: number, uri: string, message: string) =>
    new Outgoing([T.ERROR, requestType, request, {}, uri], Payload.of([message])),
  published: (request: number, publication: number) => new Outgoing([T.PUBLISHED, request, publication]),
  subscribed: (request: number, subscription: number) => new Outgoing([T.SUBSCRIBED, request, subscription]),
  unsubscribed: (request: number) => new Outgoing([T.UNSUBSCRIBED, request]),
  event: (subscription: number, publication: number, details: Dict, payload?: Payload) =>
    new Outgoing([T.EVENT, subscription, publication, details], payload),
  result: (request: number, details: Dict, payload?: Payload) =>
    new Outgoing([T.RESULT, request, details], payload),
  registered: (request: number, registration: number) => new Outgoing([T.REGISTERED, request, registration]),
  unregistered: (request: number) => new Outgoing([T.UNREGISTERED, request]),
  invocation: (request: number, registration: number, details: Dict, payload?: Payload) =>
    new Outgoing([T.INVOCATION, request, registration, details], payload),
  interrupt: (request: number, mode: string) => new Outgoing([T.INTERRUPT, request, { mode }]),
};
