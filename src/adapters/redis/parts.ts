import { ClusterAdapter } from '../cluster.js';
import { type ClusterParts, type PartsOptions, partSet } from '../parts.js';
import { RedisLastEventStore } from './cache.js';
import { RedisChannelHistory } from './channel-history.js';
import { RedisClients } from './clients.js';
import { RedisHistoryStore } from './history.js';
import { RedisOccupancyStore } from './occupancy.js';
import { RedisWebhookOutbox } from './outbox.js';
import { checkRedis } from './preflight.js';
import { RedisPresenceStore } from './presence.js';
import { RedisTransport } from './transport.js';

/**
 * The Redis set of a node: the adapter over Redis pub/sub and the presence, occupancy, cache,
 * history, outbox and channel stream stores, all over one `RedisClients` (two connections) that the set opens and closes.
 */
export function createRedisParts(url: string, options: PartsOptions): ClusterParts {
  const { nodeId, prefix, logger } = options;
  const clients = new RedisClients(url, logger);
  const redis = clients.commands;
  return partSet(
    'redis',
    {
      adapter: new ClusterAdapter(new RedisTransport(clients), options),
      presence: new RedisPresenceStore(redis, nodeId, prefix),
      occupancy: new RedisOccupancyStore(redis, nodeId, prefix),
      cache: new RedisLastEventStore(redis, prefix),
      history: new RedisHistoryStore(redis, prefix),
      outbox: new RedisWebhookOutbox(redis, nodeId, prefix, logger),
      channelHistory: new RedisChannelHistory(redis, prefix),
    },
    { preflight: () => checkRedis(url, prefix), closeConnections: () => clients.close() },
  );
}
