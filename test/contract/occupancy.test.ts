import { LocalOccupancy } from '../../src/core/channels/occupancy.js';
import { NatsOccupancyStore } from '../../src/core/channels/occupancy-nats.js';
import { RedisOccupancyStore } from '../../src/core/channels/occupancy-redis.js';
import {
  brokerSkip,
  deleteRedisPrefix,
  destroyNatsBuckets,
  NATS_URL,
  REDIS_URL,
  uniquePrefix,
} from '../helpers/brokers.js';
import { occupancyContract } from './occupancy.contract.js';

occupancyContract({
  name: 'local',
  skip: false,
  shared: false,
  store: () => new LocalOccupancy(),
  cleanup: async () => {},
});

const redisPrefix = uniquePrefix('occupancy-redis');
occupancyContract({
  name: 'redis',
  skip: await brokerSkip('redis'),
  shared: true,
  store: (nodeId) => new RedisOccupancyStore(REDIS_URL, nodeId, redisPrefix),
  cleanup: () => deleteRedisPrefix(redisPrefix),
});

const natsPrefix = uniquePrefix('occupancy-nats');
occupancyContract({
  name: 'nats',
  skip: await brokerSkip('nats'),
  shared: true,
  store: (nodeId) => new NatsOccupancyStore(NATS_URL, nodeId, natsPrefix),
  cleanup: () => destroyNatsBuckets(natsPrefix, ['occupancy']),
});
