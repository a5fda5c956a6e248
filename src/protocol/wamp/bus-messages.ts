import { isNodeId } from '../../adapters/bus-message.js';
import { MalformedBusMessage } from '../../adapters/bus-payload.js';
import type { NodeRegistration, RpcMessage } from './dealer-messages.js';
import { isId } from './ids.js';
import type { Dict } from './messages.js';
import { isDict } from './payload.js';
import { PPT_KEYS } from './ppt.js';
import type { PublishOptions } from './publish-options.js';
import { INVOKE_POLICIES } from './registrations.js';
import { isMatchPolicy } from './uri.js';

/**
 * Checks of what the WAMP routers of a cluster send each other over the bus (publications, calls and
 * their answers), before any of it reaches a session here. Anyone who can publish on the broker can
 * send anything: what fails a check throws `MalformedBusMessage`, and the message is dropped.
 */

/** A publication as it crosses the cluster: JSON, the payload as its JSON text. */
export interface WirePublication {
  t: string;
  p: number;
  d: Dict;
  o: PublishOptions;
  /** The session that must not receive it (the publisher, unless `exclude_me: false`). */
  s?: number;
  a?: string;
  k?: string;
}

/** A message between the dealers of a realm on two nodes. */
export interface NodeMessage {
  /** The sending node. */
  n: string;
  r: string;
  m: RpcMessage;
}

/**
 * Deepest nesting accepted in what the bus carries to sessions: MessagePack encoders refuse deeper
 * values (@msgpack/msgpack's `maxDepth`), so a subscriber on `wamp.2.msgpack` could not be sent it.
 */
const MAX_DEPTH = 100;

const isIds = (v: unknown) => v === undefined || (Array.isArray(v) && v.every(isId));
const isStrings = (v: unknown) =>
  v === undefined || (Array.isArray(v) && v.every((s) => typeof s === 'string'));

function fail(what: string): never {
  throw new MalformedBusMessage(what);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    return fail(`${what} is not JSON (${(err as Error).message})`);
  }
}

/** Whether `text` (JSON) nests arrays and objects deeper than `max`: a scan, nothing is built. */
function nestsDeeper(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** Whether a parsed value nests arrays and objects deeper than `max`: iterative, whatever its depth. */
function valueNestsDeeper(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** A dict within the depth limit (counted from the dict itself). */
function checkDict(value: unknown, what: string): Dict {
  if (!isDict(value)) fail(`${what} must be a dict`);
  if (valueNestsDeeper(value, MAX_DEPTH)) fail(`${what} nests deeper than ${MAX_DEPTH}`);
  return value;
}

/** `Arguments` and `ArgumentsKw` as JSON texts: a list and a dict, within the depth limit. */
function checkPayload(args: unknown, kwargs: unknown, what: string): void {
  if (args === undefined) {
    if (kwargs !== undefined) fail(`${what}: ArgumentsKw without Arguments`);
    return;
  }
  if (typeof args !== 'string' || !Array.isArray(parseJson(args, `${what} Arguments`))) {
    fail(`${what}: Arguments must be the JSON text of a list`);
  }
  if (
    kwargs !== undefined &&
    (typeof kwargs !== 'string' || !isDict(parseJson(kwargs, `${what} ArgumentsKw`)))
  ) {
    fail(`${what}: ArgumentsKw must be the JSON text of a dict`);
  }
  if (nestsDeeper(args, MAX_DEPTH) || (kwargs !== undefined && nestsDeeper(kwargs as string, MAX_DEPTH))) {
    fail(`${what}: the payload nests deeper than ${MAX_DEPTH}`);
  }
}

function checkPublishOptions(value: unknown): PublishOptions {
  if (!isDict(value)) fail('publication: options must be a dict');
  const o = value as Record<string, unknown>;
  const bools = ['excludeMe', 'disclose', 'retain'].every((k) => typeof o[k] === 'boolean');
  const ids = isIds(o.exclude) && isIds(o.eligible);
  const strings = ['excludeAuthid', 'excludeAuthrole', 'eligibleAuthid', 'eligibleAuthrole'].every((k) =>
    isStrings(o[k]),
  );
  if (!bools || !ids || !strings) fail('publication: malformed options');
  return o as unknown as PublishOptions;
}

/** The details a router discloses about a publisher (The WAMP Protocol, "Publisher Identification"). */
function checkPublicationDetails(value: unknown): Dict {
  if (!isDict(value)) fail('publication: details must be a dict');
  const { publisher, publisher_authid: authid, publisher_authrole: authrole, ...rest } = value;
  for (const [key, v] of Object.entries(rest)) {
    if (!(PPT_KEYS as readonly string[]).includes(key)) fail('publication: unknown details');
    if (typeof v !== 'string') fail(`publication: ${key} must be a string`);
  }
  if (publisher !== undefined && !isId(publisher)) fail('publication: publisher must be an ID');
  if (authid !== undefined && typeof authid !== 'string')
    fail('publication: publisher_authid must be a string');
  if (authrole !== undefined && typeof authrole !== 'string') {
    fail('publication: publisher_authrole must be a string');
  }
  return value;
}

export function parseWirePublication(text: string): WirePublication {
  const w = parseJson(text, 'publication');
  if (!isDict(w)) fail('publication must be a JSON object');
  if (typeof w.t !== 'string' || w.t === '') fail('publication: topic must be a string');
  if (!isId(w.p)) fail('publication: its ID must be an ID');
  if (w.s !== undefined && !isId(w.s)) fail('publication: the excluded session must be an ID');
  checkPublicationDetails(w.d);
  checkPublishOptions(w.o);
  checkPayload(w.a, w.k, 'publication');
  return w as unknown as WirePublication;
}

/** RESULT (`[50, Request, Details]`) or ERROR (`[8, 48, Request, Details, Error]`) for a caller. */
function checkAnswer(items: unknown): void {
  if (!Array.isArray(items)) fail('call answer: items must be a list');
  const [type] = items;
  if (type === 50 && items.length === 3 && isId(items[1])) {
    checkDict(items[2], 'RESULT.Details');
    return;
  }
  if (type === 8 && items.length === 5 && items[1] === 48 && isId(items[2]) && typeof items[4] === 'string') {
    checkDict(items[3], 'ERROR.Details');
    return;
  }
  fail('call answer: neither a RESULT nor an ERROR for a CALL');
}

function checkRpcMessage(m: unknown): RpcMessage {
  if (!isDict(m)) fail('call message must be a dict');
  if (!isId(m.c)) fail('call message: the caller must be a session ID');
  switch (m.k) {
    case 'call':
      if (typeof m.ca !== 'string' || typeof m.cr !== 'string')
        fail('call: authid and authrole must be strings');
      if (!isId(m.q)) fail('call: the request must be an ID');
      if (typeof m.u !== 'string') fail('call: the procedure must be a string');
      checkDict(m.o, 'call: options');
      if (m.pp !== undefined && m.pp !== true) fail('call: pp must be true when present');
      checkPayload(m.a, m.w, 'call');
      break;
    case 'cancel':
      if (!isId(m.q)) fail('cancel: the request must be an ID');
      checkDict(m.o, 'cancel: options');
      break;
    case 'gone':
      break;
    case 'out':
      checkAnswer(m.m);
      checkPayload(m.a, m.w, 'call answer');
      break;
    default:
      fail('call message: unknown kind');
  }
  return m as unknown as RpcMessage;
}

export function parseNodeMessage(text: string): NodeMessage {
  const message = parseJson(text, 'call message');
  if (!isDict(message)) fail('call message must be a JSON object');
  if (typeof message.n !== 'string' || typeof message.r !== 'string') {
    fail('call message: node and realm must be strings');
  }
  // The answers go to the node it names: a forged name must not make this node publish where no broker can.
  // The node names the bus topic the answers go to, and a broker refuses a topic too long for it (NATS
  // closes the connection, and what was in flight on it is lost).
  if (!isNodeId(message.n)) fail('call message: the node is not a node id');
  checkRpcMessage(message.m);
  return message as unknown as NodeMessage;
}

/**
 * A node's answer to the cluster's lookup (`wamp.lookup`): null when it has no registration, else one
 * whose node is where the CALL would go and whose numbers `pickNode` counts with.
 */
export function parseLookupAnswer(value: unknown): NodeRegistration | null {
  if (value === null) return null;
  if (!isDict(value)) fail('lookup answer must be null or a dict');
  const { node, uri, match, invoke, callees, oldest, newest } = value;
  if (!isNodeId(node)) fail('lookup answer: the node is not a node id');
  if (typeof uri !== 'string' || !isMatchPolicy(match) || !INVOKE_POLICIES.includes(invoke as string)) {
    fail('lookup answer: malformed registration');
  }
  if (!Number.isSafeInteger(callees) || (callees as number) < 1) {
    fail('lookup answer: callees must be a positive integer');
  }
  if (!Number.isFinite(oldest) || !Number.isFinite(newest)) fail('lookup answer: times must be numbers');
  return value as unknown as NodeRegistration;
}
