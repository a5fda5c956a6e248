import { MemoryPresenceStore } from '../../src/core/presence/memory.js';
import { NatsPresenceStore } from '../../src/core/presence/nats.js';
import { RedisPresenceStore } from '../../src/core/presence/redis.js';
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
    redis: (url, nodeId, prefix) => new RedisPresenceStore(url, nodeId, prefix),
    nats: (url, nodeId, prefix) => new NatsPresenceStore(url, nodeId, prefix),
  },
  'presence',
);
for (const harness of harnesses) presenceContract(harness);
