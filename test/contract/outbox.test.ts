import { NatsWebhookOutbox } from '../../src/adapters/nats/outbox.js';
import { RedisWebhookOutbox } from '../../src/adapters/redis/outbox.js';
import type { WebhookOutbox } from '../../src/core/webhook-outbox.js';
import { outboxContract } from './outbox.contract.js';
import { brokerHarnesses } from './store-harness.js';

const harnesses = await brokerHarnesses<WebhookOutbox>(
  'outbox',
  {
    redis: (redis, nodeId, prefix, logger) => new RedisWebhookOutbox(redis, nodeId, prefix, logger),
    nats: (client, nodeId, prefix, logger) => new NatsWebhookOutbox(client, nodeId, prefix, logger),
  },
  'outbox',
);
for (const harness of harnesses) outboxContract(harness);
