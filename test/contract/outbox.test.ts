import type { WebhookOutbox } from '../../src/webhooks/outbox.js';
import { NatsWebhookOutbox } from '../../src/webhooks/outbox-nats.js';
import { RedisWebhookOutbox } from '../../src/webhooks/outbox-redis.js';
import { outboxContract } from './outbox.contract.js';
import { brokerHarnesses } from './store-harness.js';

const harnesses = await brokerHarnesses<WebhookOutbox>(
  'outbox',
  {
    redis: (url, nodeId, prefix) => new RedisWebhookOutbox(url, nodeId, prefix),
    nats: (url, nodeId, prefix) => new NatsWebhookOutbox(url, nodeId, prefix),
  },
  'outbox',
);
for (const harness of harnesses) outboxContract(harness);
