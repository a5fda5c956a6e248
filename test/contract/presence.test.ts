import { NatsPresenceStore } from '../../src/adapters/nats/presence.js';
import { RedisPresenceStore } from '../../src/adapters/redis/presence.js';
import { MemoryPresenceStore } from '../../src/core/presence/memory.js';
import type { PresenceStore } from '../../src/core/presence/store.js';
import { presenceContract } from './presence.contract.js';
import { brokerHarnesses } from './store-harness.js';

presenceContract({
  name: 'memory',
  skip: false,
  shared: false,
  store: () => new MemoryPresenceStore(),
  cleanup: async () => {},
});

const harnesses = await brokerHarnesses<PresenceStore>(
  'presence',
  {
    redis: (redis, nodeId, prefix) => new RedisPresenceStore(redis, nodeId, prefix),
    nats: (client, nodeId, prefix, logger) => new NatsPresenceStore(client, nodeId, prefix, logger),
  },
  'presence',
);
for (const harness of harnesses) presenceContract(harness);
