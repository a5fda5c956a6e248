import { NatsHistoryStore } from '../../src/adapters/nats/history.js';
import { RedisHistoryStore } from '../../src/adapters/redis/history.js';
import { MemoryHistoryStore } from '../../src/core/history/memory.js';
import type { HistoryStore } from '../../src/core/history/store.js';
import { historyContract } from './history.contract.js';
import { brokerHarnesses } from './store-harness.js';

historyContract({
  name: 'memory',
  skip: false,
  shared: false,
  store: () => new MemoryHistoryStore(),
  cleanup: async () => {},
});

const harnesses = await brokerHarnesses<HistoryStore>(
  'history',
  {
    redis: (redis, _nodeId, prefix) => new RedisHistoryStore(redis, prefix),
    nats: (client, _nodeId, prefix) => new NatsHistoryStore(client, prefix),
  },
  'history',
);
for (const harness of harnesses) historyContract(harness);
