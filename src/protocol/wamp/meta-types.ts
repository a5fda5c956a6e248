import type { Authorizer } from './authorizer.js';
import type { Broker } from './broker.js';
import type { Dealer } from './dealer.js';
import type { EventHistory } from './history.js';
import type { Dict } from './messages.js';
import type { Payload } from './payload.js';
import type { Peer } from './peer.js';
import type { PublishOptions } from './publish-options.js';

/**
 * What the meta API (`meta.ts`) and its procedures (`meta-procedures.ts`) share: the realm they read,
 * what they ask the cluster, and the testaments the procedures hand the meta API to keep.
 */

/** A session as the cluster's other nodes describe it. */
export interface SessionInfo {
  id: number;
  authrole: string;
  details: Dict;
}

/** In a cluster: what the meta API asks the realm's other nodes. */
export interface MetaCluster {
  /** The realm's sessions on every node, this one included. */
  sessions(): Promise<SessionInfo[]>;
  /** The other nodes' parts (`MetaApi.answer`) of meta procedure `procedure`. */
  ask(procedure: string, args: unknown[], kwargs: Dict): Promise<unknown[]>;
}

/** What the meta API reads of its realm. */
export interface RealmView {
  readonly sessions: ReadonlyMap<number, Peer>;
  readonly cluster?: MetaCluster;
  readonly broker: Broker;
  readonly dealer: Dealer;
  readonly authorizer: Authorizer;
  readonly uriCheck: 'loose' | 'strict';
  readonly history: EventHistory;
}

export type TestamentScope = 'detached' | 'destroyed';

export interface Testament {
  readonly topic: string;
  readonly options: PublishOptions;
  readonly payload: Payload;
}

/** Keeps each session's testaments (WAMP spec, Advanced Profile, Testament): the meta API. */
export interface TestamentKeeper {
  /** Keeps a testament, or throws `herald.error.limit_exceeded` past the session's testament limits. */
  addTestament(peer: Peer, scope: TestamentScope, testament: Testament): void;
  flushTestaments(peer: Peer, scope: TestamentScope): void;
}
