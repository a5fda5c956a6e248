import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { type Logger, pino } from 'pino';
import { NatsClient } from '../../src/adapters/nats/connection.js';
import type { RedisClient } from '../../src/adapters/redis/clients.js';
import { RedisClients } from '../../src/adapters/redis/clients.js';
import {
  brokerSkip,
  deleteRedisPrefix,
  destroyNatsBuckets,
  NATS_URL,
  REDIS_URL,
  uniquePrefix,
} from '../helpers/brokers.js';

/** What the store contracts (presence, occupancy) need from each implementation under test. */
export interface StoreHarness<S> {
  name: string;
  /** `false` when the implementation can run here, else why not. */
  skip: string | false;
  /** False for a store that lives in one process: cross-node cases are skipped. */
  shared: boolean;
  /** A store acting for `nodeId`; stores from one harness share their data when `shared`. */
  store(nodeId: string): S;
  /** Removes whatever the run left behind in the backend. */
  cleanup(): Promise<void>;
}

/**
 * Inside a contract's `describe`: a factory of stores that are all closed, and the backend cleaned,
 * after the suite; each test gets a namespace of its own; `shared` is the option that skips
 * cross-node cases for single-process stores.
 */
export function storeFixture<S extends { close(): Promise<void> }>(harness: StoreHarness<S>) {
  const stores: S[] = [];
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await harness.cleanup();
  });
  return {
    store(nodeId: string = randomUUID()): S {
      const s = harness.store(nodeId);
      stores.push(s);
      return s;
    },
    namespace: () => `pusher:${randomUUID()}`,
    shared: harness.shared ? {} : { skip: `${harness.name} holds one node only` },
  };
}

/**
 * The Redis and the NATS harness of a store, each on a prefix of its own. Every store of a harness runs
 * over the one client set of its broker, as the stores of a node do (`createRedisParts`,
 * `createNatsParts`), opened with the first store and closed after the suite: `make` builds the store
 * over it for a node and the prefix; `bucket` is the NATS bucket the store uses.
 */
export async function brokerHarnesses<S>(
  what: string,
  make: {
    redis: (redis: RedisClient, nodeId: string, prefix: string, logger: Logger) => S;
    nats: (client: NatsClient, nodeId: string, prefix: string, logger: Logger) => S;
  },
  bucket: string,
): Promise<StoreHarness<S>[]> {
  const redisPrefix = uniquePrefix(`${what}-redis`);
  const natsPrefix = uniquePrefix(`${what}-nats`);
  const logger = pino({ level: process.env.HERALD_TEST_LOG ?? 'silent' });
  let redis: RedisClients | undefined;
  let nats: NatsClient | undefined;
  return [
    {
      name: 'redis',
      skip: await brokerSkip('redis'),
      shared: true,
      store: (nodeId) => {
        redis ??= new RedisClients(REDIS_URL, logger);
        return make.redis(redis.commands, nodeId, redisPrefix, logger);
      },
      cleanup: async () => {
        await redis?.close();
        await deleteRedisPrefix(redisPrefix);
      },
    },
    {
      name: 'nats',
      skip: await brokerSkip('nats'),
      shared: true,
      store: (nodeId) => {
        nats ??= new NatsClient(NATS_URL, logger);
        return make.nats(nats, nodeId, natsPrefix, logger);
      },
      cleanup: async () => {
        await nats?.close();
        await destroyNatsBuckets(natsPrefix, [bucket]);
      },
    },
  ];
}
