import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { NatsLastEventStore } from '../core/cache/nats.js';
import { RedisLastEventStore } from '../core/cache/redis.js';
import type { LastEventStore } from '../core/cache/store.js';
import { LocalOccupancy, type OccupancyStore } from '../core/channels/occupancy.js';
import { NatsOccupancyStore } from '../core/channels/occupancy-nats.js';
import { RedisOccupancyStore } from '../core/channels/occupancy-redis.js';
import { MemoryPresenceStore } from '../core/presence/memory.js';
import { NatsPresenceStore } from '../core/presence/nats.js';
import { RedisPresenceStore } from '../core/presence/redis.js';
import type { PresenceStore } from '../core/presence/store.js';
import type { WebhookOutbox } from '../webhooks/outbox.js';
import { NatsWebhookOutbox } from '../webhooks/outbox-nats.js';
import { RedisWebhookOutbox } from '../webhooks/outbox-redis.js';
import type { Adapter } from './adapter.js';
import { ClusterAdapter } from './cluster.js';
import { MemoryAdapter } from './memory.js';
import { NatsTransport } from './nats.js';
import { checkNats, checkRedis } from './preflight.js';
import { RedisTransport } from './redis.js';

export interface ClusterParts {
  adapter: Adapter;
  presence: PresenceStore;
  occupancy: OccupancyStore;
  /** Shared last events of cache channels; absent for a single node, which keeps them in memory. */
  cache?: LastEventStore;
  /** Each node's webhook debts, for survivors to take over; absent for a single node. */
  outbox?: WebhookOutbox;
  /** Checks, before the node starts, that the broker offers what these parts need. */
  preflight?: () => Promise<void>;
}

/** The adapter and shared stores the configured driver implies. */
export function createClusterParts(config: Config['adapter'], logger: Logger): ClusterParts {
  const log = logger.child({ component: 'cluster', driver: config.driver });
  const options = {
    logger: log,
    prefix: config.prefix,
    heartbeatMs: config.heartbeatMs,
    nodeTimeoutMs: config.nodeTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
  };
  switch (config.driver) {
    case 'memory':
      return {
        adapter: new MemoryAdapter(),
        presence: new MemoryPresenceStore(),
        occupancy: new LocalOccupancy(),
      };
    case 'redis': {
      const adapter = new ClusterAdapter(new RedisTransport(config.url!, log), options);
      return {
        adapter,
        presence: new RedisPresenceStore(config.url!, adapter.nodeId, config.prefix),
        occupancy: new RedisOccupancyStore(config.url!, adapter.nodeId, config.prefix),
        cache: new RedisLastEventStore(config.url!, config.prefix),
        outbox: new RedisWebhookOutbox(config.url!, adapter.nodeId, config.prefix, log),
        preflight: () => checkRedis(config.url!, config.prefix),
      };
    }
    case 'nats': {
      const adapter = new ClusterAdapter(new NatsTransport(config.url!, log), options);
      return {
        adapter,
        presence: new NatsPresenceStore(config.url!, adapter.nodeId, config.prefix, log),
        occupancy: new NatsOccupancyStore(config.url!, adapter.nodeId, config.prefix, log),
        cache: new NatsLastEventStore(config.url!, config.prefix, log),
        outbox: new NatsWebhookOutbox(config.url!, adapter.nodeId, config.prefix, log),
        preflight: () => checkNats(config.url!),
      };
    }
  }
}
