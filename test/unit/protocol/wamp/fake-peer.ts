import assert from 'node:assert/strict';
import pino from 'pino';
import { wampRealmSchema, wampRoleSchema } from '../../../../src/config/schema.js';
import { Authorizer } from '../../../../src/protocol/wamp/authorizer.js';
import type { Outgoing } from '../../../../src/protocol/wamp/codec.js';
import type { Dict } from '../../../../src/protocol/wamp/messages.js';
import type { ClientRole, Peer } from '../../../../src/protocol/wamp/peer.js';
import { jsonSerializer } from '../../../../src/protocol/wamp/serializers/json.js';

/**
 * A joined session without a socket, for the broker and dealer: what it is sent is kept as the message
 * the wire would carry (items, then `Arguments` and `ArgumentsKw` when present).
 */
export class FakePeer implements Peer {
  readonly serializer = jsonSerializer;
  readonly #sent: unknown[][] = [];
  readonly #features: Partial<Record<ClientRole, readonly string[]>>;

  constructor(
    readonly id: number,
    features: Partial<Record<ClientRole, readonly string[]>> = {},
    readonly authid = `authid-${id}`,
    readonly authrole = 'anonymous',
  ) {
    this.#features = features;
  }

  send(message: Outgoing): void {
    const { payload } = message;
    if (payload === undefined) return void this.#sent.push([...message.items]);
    const { args, kwargs } = payload.values();
    this.#sent.push([...message.items, args, ...(payload.hasKwargs ? [kwargs] : [])]);
  }

  has(role: ClientRole, feature: string): boolean {
    return this.#features[role]?.includes(feature) === true;
  }

  details(): Dict {
    return { session: this.id, authid: this.authid, authrole: this.authrole };
  }

  kill(): void {}

  /** The messages sent since the last call, oldest first. */
  take(): unknown[][] {
    return this.#sent.splice(0);
  }
}

/** The ID a request's acknowledgement (SUBSCRIBED, REGISTERED) carries, after checking its type. */
export function acknowledged(peer: FakePeer, type: number): number {
  const [reply] = peer.take();
  assert.equal(reply?.[0], type);
  return reply[2] as number;
}

/**
 * The broker's or dealer's events as lines: `+<session> <match> <uri>` when a session joins a
 * subscription or registration (` created` for the first), `-…` when it leaves (` deleted` for the last).
 */
export function eventLog() {
  const lines: string[] = [];
  type Entry = { readonly uri: string; readonly match: string };
  const line = (sign: string, peer: Peer, e: Entry, flag: string | false) =>
    lines.push(`${sign}${peer.id} ${e.match} ${e.uri}${flag ? ` ${flag}` : ''}`);
  return {
    lines,
    joined: (peer: Peer, e: Entry, created: boolean) => line('+', peer, e, created && 'created'),
    left: (peer: Peer, e: Entry, deleted: boolean) => line('-', peer, e, deleted && 'deleted'),
  };
}

/** What a test's broker and dealer report and are told: nothing is logged. */
export const silentLogger = pino({ level: 'silent' });

/**
 * The default realm's authorization (`anonymous` may do anything), plus `guest`, who may only
 * subscribe to and call what starts with `open.`.
 */
export const authorizer = new Authorizer([
  ...wampRealmSchema.parse({ name: 'realm1' }).roles,
  wampRoleSchema.parse({
    name: 'guest',
    permissions: [{ uri: 'open.', match: 'prefix', allow: { subscribe: true, call: true } }],
  }),
]);
