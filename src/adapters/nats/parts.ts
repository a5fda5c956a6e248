import { ClusterAdapter } from '../cluster.js';
import { type ClusterParts, type PartsOptions, partSet } from '../parts.js';
import { NatsLastEventStore } from './cache.js';
import { NatsChannelHistory } from './channel-history.js';
import { NatsClient } from './connection.js';
import { NatsHistoryStore } from './history.js';
import { NatsOccupancyStore } from './occupancy.js';
import { NatsWebhookOutbox } from './outbox.js';
import { checkNats } from './preflight.js';
import { NatsPresenceStore } from './presence.js';
import { NatsTransport } from './transport.js';

/**
 * The NATS set of a node: the adapter over core NATS subjects, the presence, occupancy, cache and
 * outbox stores in JetStream key-value buckets, the history store in a JetStream stream and the
 * channel streams and resume states in two more, all over
 * one `NatsClient` (one connection) that the set opens and closes.
 */
export function createNatsParts(url: string, options: PartsOptions): ClusterParts {
  const { nodeId, prefix, logger } = options;
  const client = new NatsClient(url, logger);
  return partSet(
    'nats',
    {
      adapter: new ClusterAdapter(new NatsTransport(client, logger), options),
      presence: new NatsPresenceStore(client, nodeId, prefix, logger),
      occupancy: new NatsOccupancyStore(client, nodeId, prefix),
      cache: new NatsLastEventStore(client, prefix),
      history: new NatsHistoryStore(client, prefix),
      outbox: new NatsWebhookOutbox(client, nodeId, prefix, logger),
      channelHistory: new NatsChannelHistory(client, prefix),
    },
    { preflight: () => checkNats(client), closeConnections: () => client.close() },
  );
}
