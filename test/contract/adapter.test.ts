import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { type Logger, pino } from 'pino';
import { type BrokerTransport, ClusterAdapter } from '../../src/adapters/cluster.js';
import { MemoryAdapter } from '../../src/adapters/memory.js';
import { NatsClient } from '../../src/adapters/nats/connection.js';
import { NatsTransport } from '../../src/adapters/nats/transport.js';
import { RedisClients } from '../../src/adapters/redis/clients.js';
import { RedisTransport } from '../../src/adapters/redis/transport.js';
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

/** A node's link to the broker: its transport over a client set of its own, and how to close that set. */
interface BrokerLink {
  transport: BrokerTransport;
  close(): Promise<void>;
}

/**
 * A cluster of `ClusterAdapter`s in this process over one broker, under a prefix of its own; each node
 * has a client set of its own, as a process would, and a crash closes that set.
 */
function brokerCluster(
  driver: string,
  timings: Timings,
  link: (logger: Logger) => BrokerLink,
  raw: () => Promise<{ publish(topic: string, payload: string): Promise<void>; close(): Promise<void> }>,
): TestCluster {
  const prefix = uniquePrefix(driver);
  const nodes: ClusterAdapter[] = [];
  const links: BrokerLink[] = [];
  let rawClient: Awaited<ReturnType<typeof raw>> | undefined;
  return {
    async node(): Promise<TestNode> {
      const { logger, logs } = capturingLogger();
      const broker = link(logger);
      links.push(broker);
      const observed = new ObservedTransport(broker.transport);
      const adapter = new ClusterAdapter(observed, { logger, nodeId: randomUUID(), prefix, ...timings });
      nodes.push(adapter);
      await adapter.start();
      return {
        adapter,
        peers: () => adapter.peers,
        bus: observed.bus,
        logs,
        crash: () => broker.close(),
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
      await Promise.all(links.map((l) => l.close()));
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
        const adapter = new MemoryAdapter(randomUUID());
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
      (logger) => {
        const clients = new RedisClients(REDIS_URL, logger);
        return { transport: new RedisTransport(clients), close: () => clients.close() };
      },
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
      (logger) => {
        const client = new NatsClient(NATS_URL, logger);
        return { transport: new NatsTransport(client, logger), close: () => client.close() };
      },
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
