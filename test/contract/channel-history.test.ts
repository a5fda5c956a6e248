import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { NatsChannelHistory } from '../../src/adapters/nats/channel-history.js';
import { NatsClient } from '../../src/adapters/nats/connection.js';
import { RedisChannelHistory } from '../../src/adapters/redis/channel-history.js';
import { RedisClients } from '../../src/adapters/redis/clients.js';
import { MemoryChannelHistory } from '../../src/core/channel-history/memory.js';
import type { ChannelHistory } from '../../src/core/channel-history/store.js';
import {
  brokerSkip,
  deleteRedisPrefix,
  destroyNatsBuckets,
  NATS_URL,
  REDIS_URL,
  uniquePrefix,
} from '../helpers/brokers.js';
import { historyContract } from './channel-history.contract.js';

let clock = Date.now();

historyContract({
  name: 'memory',
  skip: false,
  shared: false,
  store: () => new MemoryChannelHistory(() => clock),
  advance: (ms) => {
    clock += ms;
  },
  cleanup: async () => {},
});

const redisSkip = await brokerSkip('redis');
const redisPrefix = uniquePrefix('history-redis');
const logger = pino({ level: process.env.HERALD_TEST_LOG ?? 'silent' });
let redis: RedisClients | undefined;

historyContract({
  name: 'redis',
  skip: redisSkip,
  shared: true,
  store: () => {
    redis ??= new RedisClients(REDIS_URL, logger);
    return new RedisChannelHistory(redis.commands, redisPrefix);
  },
  cleanup: async () => {
    await redis?.close();
    await deleteRedisPrefix(redisPrefix);
  },
});

const natsSkip = await brokerSkip('nats');
const natsPrefix = uniquePrefix('history-nats');
let nats: NatsClient | undefined;

historyContract({
  name: 'nats',
  skip: natsSkip,
  shared: true,
  store: () => {
    nats ??= new NatsClient(NATS_URL, logger);
    return new NatsChannelHistory(nats, natsPrefix);
  },
  cleanup: async () => {
    await nats?.close();
    await destroyNatsBuckets(natsPrefix, ['channel-history']);
  },
});

/** Polls `read` until `done` holds of what it gives: a broker expires by its own clock. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/** The shared stores, each with its own connection, and how to close it and remove what it kept. */
const brokerStores: [string, string | false, () => { store: ChannelHistory; close(): Promise<void> }][] = [
  [
    'RedisChannelHistory',
    redisSkip,
    () => {
      const own = new RedisClients(REDIS_URL, logger);
      const close = async () => {
        await own.close();
        await deleteRedisPrefix(redisPrefix);
      };
      return { store: new RedisChannelHistory(own.commands, redisPrefix), close };
    },
  ],
  [
    'NatsChannelHistory',
    natsSkip,
    () => {
      const own = new NatsClient(NATS_URL, logger);
      const close = async () => {
        await own.close();
        await destroyNatsBuckets(natsPrefix, ['channel-history']);
      };
      return { store: new NatsChannelHistory(own, natsPrefix), close };
    },
  ],
];

for (const [name, skip, open] of brokerStores) {
  describe(`${name}: expiry by the broker`, { skip }, () => {
    let close: (() => Promise<void>) | undefined;
    after(() => close?.());

    test('events expire after ttlMs, the stream after streamTtlMs, then begins under another epoch', async () => {
      const opened = open();
      close = opened.close;
      const h = opened.store;
      const ns = `pusher:${uniquePrefix('ns')}`;
      const limits = { maxEvents: 10, ttlMs: 20, streamTtlMs: 200 };
      const first = await h.append(ns, 'c', { text: 'x' }, limits);
      const read = await eventually(
        () => h.read(ns, 'c', { epoch: first.epoch, offset: 0 }, 10),
        (page) => page.events.length === 0,
        'the event to expire',
      );
      assert.equal(read.complete, false, 'event 1 expired');
      assert.deepEqual(read.position, first, 'the stream outlives its events');
      await eventually(
        () => h.position(ns, 'c'),
        (p) => p === undefined,
        'the stream to be forgotten',
      );
      const again = await h.append(ns, 'c', { text: 'y' }, limits);
      assert.equal(again.offset, 1);
      assert.notEqual(again.epoch, first.epoch);
    });
  });
}
