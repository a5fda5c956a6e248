import { NatsOccupancyStore } from '../../src/adapters/nats/occupancy.js';
import { RedisOccupancyStore } from '../../src/adapters/redis/occupancy.js';
import type { OccupancyStore } from '../../src/core/channels/occupancy.js';
import { LocalOccupancy } from '../../src/core/channels/occupancy.js';
import { occupancyContract } from './occupancy.contract.js';
import { brokerHarnesses } from './store-harness.js';

occupancyContract({
  name: 'local',
  skip: false,
  shared: false,
  store: () => new LocalOccupancy(),
  cleanup: async () => {},
});

const harnesses = await brokerHarnesses<OccupancyStore>(
  'occupancy',
  {
    redis: (redis, nodeId, prefix) => new RedisOccupancyStore(redis, nodeId, prefix),
    nats: (client, nodeId, prefix) => new NatsOccupancyStore(client, nodeId, prefix),
  },
  'occupancy',
);
for (const harness of harnesses) occupancyContract(harness);
