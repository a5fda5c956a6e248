import { MemoryPresenceStore } from '../../src/core/presence/memory.js';
import { NatsPresenceStore } from '../../src/core/presence/nats.js';
import { RedisPresenceStore } from '../../src/core/presence/redis.js';
import {
  brokerSkip,
  deleteRedisPrefix,
  destroyNatsBuckets,
  NATS_URL,
  REDIS_URL,
  uniquePrefix,
} from '../helpers/brokers.js';
import { presenceContract } from './presence.contract.js';

presenceContract({
  name: 'memory',
  skip: false,
  shared: false,
  store: () => new MemoryPresenceStore(),
  cleanup: async () => {},
});

const redisPrefix = uniquePrefix('presence-redis');
presenceContract({
  name: 'redis',
  skip: await brokerSkip('redis'),
  shared: true,
  store: (nodeId) => new RedisPresenceStore(REDIS_URL, nodeId, redisPrefix),
  cleanup: () => deleteRedisPrefix(redisPrefix),
});

const natsPrefix = uniquePrefix('presence-nats');
presenceContract({
  name: 'nats',
  skip: await brokerSkip('nats'),
  shared: true,
  store: (nodeId) => new NatsPresenceStore(NATS_URL, nodeId, natsPrefix),
  cleanup: () => destroyNatsBuckets(natsPrefix, ['presence']),
});
