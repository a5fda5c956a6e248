import type { OccupancyStore } from '../../src/core/channels/occupancy.js';
import { LocalOccupancy } from '../../src/core/channels/occupancy.js';
import { NatsOccupancyStore } from '../../src/core/channels/occupancy-nats.js';
import { RedisOccupancyStore } from '../../src/core/channels/occupancy-redis.js';
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
    redis: (url, nodeId, prefix) => new RedisOccupancyStore(url, nodeId, prefix),
    nats: (url, nodeId, prefix) => new NatsOccupancyStore(url, nodeId, prefix),
  },
  'occupancy',
);
for (const harness of harnesses) occupancyContract(harness);
