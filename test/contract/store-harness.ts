import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
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
 * The Redis and the NATS harness of a store, each on a prefix of its own: `make` builds the store
 * for a broker URL, a node and the prefix; `bucket` is the NATS bucket the store uses.
 */
export async function brokerHarnesses<S>(
  what: string,
  make: {
    redis: (url: string, nodeId: string, prefix: string) => S;
    nats: (url: string, nodeId: string, prefix: string) => S;
  },
  bucket: string,
): Promise<StoreHarness<S>[]> {
  const redisPrefix = uniquePrefix(`${what}-redis`);
  const natsPrefix = uniquePrefix(`${what}-nats`);
  return [
    {
      name: 'redis',
      skip: await brokerSkip('redis'),
      shared: true,
      store: (nodeId) => make.redis(REDIS_URL, nodeId, redisPrefix),
      cleanup: () => deleteRedisPrefix(redisPrefix),
    },
    {
      name: 'nats',
      skip: await brokerSkip('nats'),
      shared: true,
      store: (nodeId) => make.nats(NATS_URL, nodeId, natsPrefix),
      cleanup: () => destroyNatsBuckets(natsPrefix, [bucket]),
    },
  ];
}
