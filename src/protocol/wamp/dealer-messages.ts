import type { Registration } from './dealer.js';
import { WampError, WampUri } from './errors.js';
import type { Dict } from './messages.js';
import { Payload } from './payload.js';
import type { InvokePolicy } from './registrations.js';
import { jsonSerializer } from './serializers/json.js';
import type { MatchPolicy } from './uri.js';

/**
 * What the dealers of a realm on two nodes send each other, as it crosses the cluster bus (JSON;
 * checked on arrival in `bus-messages.ts`). Payloads travel as their JSON text: `a` the arguments,
 * `w` the keyword arguments.
 */

/** A node's registration, as it answers the cluster's lookup. */
export interface NodeRegistration {
  readonly node: string;
  readonly uri: string;
  readonly match: MatchPolicy;
  readonly invoke: InvokePolicy;
  /** How many callees it has on the node, and when the oldest and the newest registered (ms). */
  readonly callees: number;
  readonly oldest: number;
  readonly newest: number;
}

/** A registration as the cluster sees it (see `NodeRegistration`). */
export function nodeRegistration(node: string, r: Registration): NodeRegistration {
  const times = r.callees.map((c) => c.since);
  const [oldest, newest] = [Math.min(...times), Math.max(...times)];
  return { node, uri: r.uri, match: r.match, invoke: r.invoke, callees: r.callees.length, oldest, newest };
}

/** A caller's CALL, or the next chunk of a progressive one, for the callee's node. */
export interface RpcCall {
  k: 'call';
  /** The caller's session ID, authid and authrole. */
  c: number;
  ca: string;
  cr: string;
  /** The CALL request ID, procedure and the options that mean something to the callee's node. */
  q: number;
  u: string;
  o: Dict;
  /** The caller announced payload passthru mode. */
  pp?: true;
  a?: string;
  w?: string;
}

/** A caller's CANCEL, for the callee's node. */
export interface RpcCancel {
  k: 'cancel';
  c: number;
  q: number;
  o: Dict;
}

/** A caller with calls on the callee's node has left. */
export interface RpcGone {
  k: 'gone';
  c: number;
}

/** An answer for the caller's node: the RESULT (progressive or final) or ERROR, as its items. */
export interface RpcAnswer {
  k: 'out';
  c: number;
  m: unknown[];
  a?: string;
  w?: string;
}

/**
 * What the dealers of a realm tell each other: a caller's CALL (or the next chunk of a progressive
 * one), its CANCEL and its departure go to the callee's node; the answers for the caller (RESULT,
 * ERROR) come back.
 */
export type RpcMessage = RpcCall | RpcCancel | RpcGone | RpcAnswer;

/** `m` with `payload` as its JSON text; throws `invalid_argument` when it has no JSON form. */
export function withPayload<M extends { a?: string; w?: string }>(m: M, payload: Payload | undefined): M {
  if (payload === undefined) return m;
  let parts: ReturnType<Payload['parts']>;
  try {
    parts = payload.parts(jsonSerializer);
  } catch (err) {
    const reason = `payload cannot cross the cluster as JSON (${(err as Error).message})`;
    throw new WampError(WampUri.INVALID_ARGUMENT, reason);
  }
  const { args, kwargs } = parts;
  m.a = args as string;
  if (kwargs !== undefined) m.w = kwargs as string;
  return m;
}

/** The payload `m` carries, kept as the JSON text it arrived as. */
export function payloadOf(m: { a?: string; w?: string }): Payload | undefined {
  return m.a === undefined ? undefined : Payload.raw(jsonSerializer, m.a, m.w);
}
