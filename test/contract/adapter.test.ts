import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { type Logger, pino } from 'pino';
import { type BrokerTransport, ClusterAdapter } from '../../src/adapters/cluster.js';
import { MemoryAdapter } from '../../src/adapters/memory.js';
import { NatsTransport } from '../../src/adapters/nats.js';
import { RedisTransport } from '../../src/adapters/redis.js';
import { brokerSkip, NATS_URL, REDIS_URL, uniquePrefix } from '../helpers/brokers.js';
import { adapterContract, type TestCluster, type TestNode, type Timings } from './adapter.contract.js';

/** A logger whose records are emitted as 'log' events (and printed when HERALD_TEST_LOG names a level). */
function capturingLogger(): { logger: Logger; logs: EventEmitter } {
  const logs = new EventEmitter();
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.emit('log', JSON.parse(line));
      if (process.env.HERALD_TEST_LOG) process.stderr.write(chunk);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), logs };
}

/** Passes everything through, and reports each message after the node has handled it. */
class ObservedTransport implements BrokerTransport {
  readonly bus = new EventEmitter();
  #handler: (topic: string, payload: string) => void = () => {};

  constructor(readonly inner: BrokerTransport) {
    inner.onMessage((topic, payload) => {
      this.#handler(topic, payload);
      this.bus.emit('bus', topic, payload);
    });
  }

  onMessage(handler: (topic: string, payload: string) => void): void {
    this.#handler = handler;
  }
  connect() {
    return this.inner.connect();
  }
  publish(topic: string, payload: string) {
    return this.inner.publish(topic, payload);
  }
  subscribe(topic: string) {
    return this.inner.subscribe(topic);
  }
  unsubscribe(topic: string) {
    return this.inner.unsubscribe(topic);
  }
  close() {
    return this.inner.close();
  }
}

/** Topic names as `ClusterAdapter` builds them; the bus format is part of the cluster contract. */
const topics = (prefix: string) => ({
  allTopic: `${prefix}.all`,
  channelTopic: (namespace: string, channel: string) =>
    `${prefix}.ch.${Buffer.from(`${namespace}\0${channel}`).toString('base64url')}`,
});

/** A cluster of `ClusterAdapter`s in this process over one broker, under a prefix of its own. */
function brokerCluster(
  driver: string,
  timings: Timings,
  transport: (logger: Logger) => BrokerTransport,
  raw: () => Promise<{ publish(topic: string, payload: string): Promise<void>; close(): Promise<void> }>,
): TestCluster {
  const prefix = uniquePrefix(driver);
  const nodes: ClusterAdapter[] = [];
  let rawClient: Awaited<ReturnType<typeof raw>> | undefined;
  return {
    async node(): Promise<TestNode> {
      const { logger, logs } = capturingLogger();
      const observed = new ObservedTransport(transport(logger));
      const adapter = new ClusterAdapter(observed, { logger, prefix, ...timings });
      nodes.push(adapter);
      await adapter.start();
      return {
        adapter,
        peers: () => adapter.peers,
        bus: observed.bus,
        logs,
        crash: () => observed.inner.close(),
      };
    },
    raw: {
      ...topics(prefix),
      async publish(topic, payload) {
        rawClient ??= await raw();
        await rawClient.publish(topic, payload);
      },
    },
    async close() {
      await Promise.all(nodes.map((n) => n.close()));
      await rawClient?.close();
    },
  };
}

adapterContract({
  name: 'memory',
  multiNode: false,
  skip: false,
  async cluster() {
    let used = false;
    const adapters: MemoryAdapter[] = [];
    return {
      async node(): Promise<TestNode> {
        if (used) throw new Error('the memory adapter is a single node');
        used = true;
        const adapter = new MemoryAdapter();
        adapters.push(adapter);
        await adapter.start();
        return {
          adapter,
          peers: () => [],
          bus: new EventEmitter(),
          logs: new EventEmitter(),
          crash: () => adapter.close(),
        };
      },
      async close() {
        await Promise.all(adapters.map((a) => a.close()));
      },
    };
  },
});

adapterContract({
  name: 'redis',
  multiNode: true,
  skip: await brokerSkip('redis'),
  async cluster(timings) {
    return brokerCluster(
      'redis',
      timings,
      (logger) => new RedisTransport(REDIS_URL, logger),
      async () => {
        const redis = new Redis(REDIS_URL);
        return {
          publish: async (topic, payload) => {
            await redis.publish(topic, payload);
          },
          close: async () => {
            redis.disconnect();
          },
        };
      },
    );
  },
});

adapterContract({
  name: 'nats',
  multiNode: true,
  skip: await brokerSkip('nats'),
  async cluster(timings) {
    return brokerCluster(
      'nats',
      timings,
      (logger) => new NatsTransport(NATS_URL, logger),
      async () => {
        const nc = await connect({ servers: NATS_URL });
        return {
          publish: async (topic, payload) => {
            nc.publish(topic, new TextEncoder().encode(payload));
            await nc.flush();
          },
          close: () => nc.close(),
        };
      },
    );
  },
});
