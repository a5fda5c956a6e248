import type { LastEventStore } from '../core/cache/store.js';
import type { ChannelHistory } from '../core/channel-history/store.js';
import type { OccupancyStore } from '../core/channels/occupancy.js';
import { HeraldError } from '../core/errors.js';
import type { HistoryStore } from '../core/history/store.js';
import type { PresenceStore } from '../core/presence/store.js';
import type { WebhookOutbox } from '../core/webhook-outbox.js';
import type { Adapter } from './adapter.js';
import type { ClusterOptions } from './cluster.js';

/**
 * What every part of a set is built with, all from the composition root (`src/server.ts`): the node's
 * id (the adapter announces it, the stores key this node's entries by it), the prefix of every topic,
 * key and bucket (its one default is in the config schema), the logger and the cluster timings.
 */
export type PartsOptions = ClusterOptions;

/**
 * One node's whole set of cluster parts for one driver: the adapter and the stores it implies, all
 * over the same broker connections (Redis: one for commands, one for subscriptions; NATS: one for
 * messages and JetStream key-value alike). Built whole by `createMemoryParts`, `createRedisParts` or
 * `createNatsParts`, so an adapter of one node never meets stores keyed by another.
 *
 * Lifecycle, for whoever owns the set (the `Herald` it is given to):
 * - Building the set opens no connection.
 * - `preflight()` runs first, once: it checks that the broker offers what the parts need and rejects
 *   with a `BrokerUnusableError` saying what to change (it may open the set's connections to ask).
 * - `adapter.start()` then opens the shared connections (idempotent: a preflight may have opened them).
 *   The connections reconnect on their own, without limit, for as long as the set is open.
 * - At the end, `adapter.close()` first (its goodbye still needs the connections), then `close()`: it
 *   closes the stores and then the shared connections, once; later calls resolve at once. The owner
 *   calls `close()` also when the preflight or the adapter's start failed.
 * The parts' own `close()` methods stop their work but leave the connections, which are the set's.
 */
export interface ClusterParts {
  readonly driver: 'memory' | 'redis' | 'nats';
  readonly adapter: Adapter;
  readonly presence: PresenceStore;
  readonly occupancy: OccupancyStore;
  /** Last events of cache channels: shared by the nodes on a broker, in this process for memory. */
  readonly cache: LastEventStore;
  /** The WAMP event history logs: shared by the nodes on a broker, in this process for memory. */
  readonly history: HistoryStore;
  /** Each node's webhook debts, for survivors to take over; absent for a single node. */
  readonly outbox?: WebhookOutbox;
  /** Channel streams and resume states (docs/recovery.md): shared by the nodes on a broker, in this process for memory. */
  readonly channelHistory: ChannelHistory;
  preflight(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The broker lacks something Herald needs to work. Found at start, so that a node that answers
 * `/ready` 200 can also do what it is asked (docs/clustering.md lists what stops the start).
 */
export class BrokerUnusableError extends HeraldError {
  constructor(
    code: 'nats_no_jetstream' | 'redis_no_scripting' | 'redis_read_only' | 'broker_unreachable',
    message: string,
  ) {
    super(code, message);
  }
}

/** The stores and adapter of a set, before the set's lifecycle is added. */
export type Parts = Pick<
  ClusterParts,
  'adapter' | 'presence' | 'occupancy' | 'cache' | 'history' | 'outbox' | 'channelHistory'
>;

/**
 * A set from its parts and its broker's `preflight` and `closeConnections`: `close` closes the stores
 * in turn and then the connections (even when a store's close failed), once.
 */
export function partSet(
  driver: ClusterParts['driver'],
  parts: Parts,
  broker: { preflight(): Promise<void>; closeConnections(): Promise<void> },
): ClusterParts {
  let closed: Promise<void> | undefined;
  const close = async () => {
    try {
      await parts.outbox?.close();
      await parts.presence.close();
      await parts.occupancy.close();
      await parts.cache.close();
      await parts.history.close();
      await parts.channelHistory.close();
    } finally {
      await broker.closeConnections();
    }
  };
  return {
    driver,
    ...parts,
    preflight: () => broker.preflight(),
    close: () => {
      closed ??= close();
      return closed;
    },
  };
}
