import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { channelHistoryStreams } from '../../src/adapters/nats/channel-history.js';
import { PrivateBroker } from '../helpers/brokers.js';
import { clusterSuites, type Driver, eventually, withOwnCluster } from '../helpers/cluster.js';
import { GUARD_MS, type Node } from '../helpers/cluster-node.js';
import { RecoveringClient, range } from '../helpers/recovery.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/wait.js';

/**
 * Message recovery on a cluster of three processes over Redis and over NATS (docs/recovery.md,
 * "Clusters"): a pusher-js client with the recovery helper on one node, its connection cut while events
 * are published through the two others, comes back on another node and gets what it missed once and
 * in order; a broker that restarted without its data begins the stream under a new epoch, and the
 * client is told that nothing was recovered.
 */

const TIMINGS = { heartbeatMs: 200, nodeTimeoutMs: 1_500, requestTimeoutMs: 1_000 };
const HISTORY = {
  streams: [{ channels: ['orders-*'], maxEvents: 1000, ttlSeconds: 300 }],
  resumeTtlSeconds: 60,
};

/** Publishes `order` events `from`…`to`, each through the next of `nodes` in turn. */
async function publishThrough(nodes: Node[], channel: string, from: number, to: number): Promise<void> {
  for (const n of range(from, to)) await nodes[n % nodes.length]!.sdk.trigger(channel, 'order', { n });
}

/** Resolves once a node kept a closed connection's resume state in the broker. */
async function resumeStateKept(driver: Driver, url: string, prefix: string): Promise<void> {
  if (driver === 'redis') {
    const redis = new Redis(url);
    try {
      await eventually(async () => (await redis.keys(`${prefix}:resume:*`)).length > 0, 'a resume state');
    } finally {
      redis.disconnect();
    }
    return;
  }
  const nc = await connect({ servers: url });
  try {
    const jsm = await nc.jetstreamManager();
    const stream = channelHistoryStreams(prefix)[1];
    await eventually(
      async () => (await jsm.streams.info(stream).catch(() => undefined))?.state.messages === 1,
      'a resume state',
    );
  } finally {
    await nc.close();
  }
}

/** The epoch of `channel`'s stream, through the events route of `node`. */
async function epochOf(node: Node, channel: string): Promise<string | null> {
  const response = await node.sdk.get({ path: `/channels/${channel}/events`, params: { limit: 1 } });
  return ((await response.json()) as { epoch: string | null }).epoch;
}

/** Waits until `client` got `count` events on `channel`. */
const received = (client: RecoveringClient, channel: string, count: number) =>
  until(() => client.got(channel).length >= count, `${count} events on ${channel}`, GUARD_MS);

/**
 * Three nodes over the broker at `url`, and a recovering client through a proxy to the first, subscribed
 * to `channel`; the proxy and client are closed afterwards.
 */
function withClientOnCluster(
  driver: Driver,
  url: string,
  name: string,
  channel: string,
  body: (
    nodes: [Node, Node, Node],
    client: RecoveringClient,
    proxy: TcpProxy,
    prefix: string,
  ) => Promise<void>,
): Promise<void> {
  const options = { timings: TIMINGS, appFields: { history: HISTORY } };
  return withOwnCluster(driver, url, name, options, async (nodes, _raws, prefix) => {
    const proxy = await TcpProxy.start(`http://127.0.0.1:${nodes[0]!.port}`, 0);
    let client: RecoveringClient | undefined;
    try {
      client = await RecoveringClient.connect(proxy.port);
      await client.subscribe(channel);
      await body(nodes as [Node, Node, Node], client, proxy, prefix);
    } finally {
      proxy.release();
      client?.disconnect();
      await proxy.close();
    }
  });
}

await clusterSuites((driver, sharedUrl) => {
  test('events published through two nodes while cut off from a third arrive on another, once and in order', () => {
    const channel = 'orders-cluster';
    return withClientOnCluster(
      driver,
      sharedUrl,
      'recovery',
      channel,
      async ([a, b, c], client, proxy, prefix) => {
        await publishThrough([b, c], channel, 1, 6);
        await received(client, channel, 6);
        assert.deepEqual(client.got(channel), range(1, 6));

        proxy.cut();
        await publishThrough([b, c], channel, 7, 40);
        await resumeStateKept(driver, sharedUrl, prefix);
        // It comes back on node3, which takes the resume state node1 kept and reads the stream.
        proxy.retarget(`http://127.0.0.1:${c.port}`);
        proxy.release();
        const resumed = await client.nextResumed(channel);
        assert.equal(resumed.recovered, true, JSON.stringify(resumed));
        assert.equal(resumed.epoch, await epochOf(a, channel));
        await received(client, channel, 40);

        // Live again, from both other nodes.
        await publishThrough([a, b], channel, 41, 44);
        await received(client, channel, 44);
        assert.deepEqual(client.got(channel), range(1, 44));
      },
    );
  });

  test('events published at once through two nodes reach a client on a third in offset order, each once', () => {
    const channel = 'orders-race';
    return withClientOnCluster(driver, sharedUrl, 'recovery-order', channel, async ([a, b, c], client) => {
      const odd = range(1, 60).filter((n) => n % 2 === 1);
      const even = range(1, 60).filter((n) => n % 2 === 0);
      await Promise.all([
        (async () => {
          for (const n of odd) await b.sdk.trigger(channel, 'order', { n });
        })(),
        (async () => {
          for (const n of even) await c.sdk.trigger(channel, 'order', { n });
        })(),
      ]);
      await received(client, channel, 60);
      const response = await a.sdk.get({ path: `/channels/${channel}/events`, params: { limit: 100 } });
      const stream = (await response.json()) as { events: { offset: number; data: string }[] };
      const inOffsetOrder = stream.events.map((e) => (JSON.parse(e.data) as { n: number }).n);
      assert.equal(inOffsetOrder.length, 60);
      assert.deepEqual(client.got(channel), inOffsetOrder);
    });
  });

  test('a broker restarted without its data: the stream has a new epoch, and nothing is recovered', async () => {
    const broker = await PrivateBroker.create(driver, { persistent: false });
    const channel = 'orders-epoch';
    try {
      await broker.start();
      await withClientOnCluster(
        driver,
        broker.url,
        'recovery-epoch',
        channel,
        async (nodes, client, proxy, prefix) => {
          const [a, b, c] = nodes;
          await publishThrough([b, c], channel, 1, 3);
          await received(client, channel, 3);
          const before = await epochOf(a, channel);
          assert.ok(before);

          proxy.cut();
          await resumeStateKept(driver, broker.url, prefix);
          const marks = nodes.map((n) => n.logs.length);
          await broker.kill();
          await Promise.all(
            nodes.map((n, i) => n.log((r) => r.msg === 'cut off from the broker', 'to be cut off', marks[i])),
          );
          const reconnected = nodes.map((n) => n.logs.length);
          await broker.start();
          await Promise.all(
            nodes.map((n, i) => n.log((r) => r.msg === 'back on the broker', 'to be back', reconnected[i])),
          );

          await publishThrough([b, c], channel, 4, 6);
          const after = await epochOf(a, channel);
          assert.ok(after && after !== before, `${before} then ${after}`);
          proxy.retarget(`http://127.0.0.1:${c.port}`);
          proxy.release();
          const resumed = await client.nextResumed(channel);
          assert.deepEqual({ ...resumed }, { channel, recovered: false, epoch: after });
          // What was published meanwhile is not replayed; live events come again.
          await publishThrough([a, b], channel, 7, 8);
          await received(client, channel, 5);
          assert.deepEqual(client.got(channel), [1, 2, 3, 7, 8]);
        },
      );
    } finally {
      await broker.destroy();
    }
  });
});
