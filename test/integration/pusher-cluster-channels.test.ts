import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { brokerSkip, deleteRedisPrefix, REDIS_URL, uniquePrefix } from '../helpers/brokers.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';

/**
 * `GET /apps/{id}/channels` on a cluster of two nodes over Redis: the channels of both nodes, their
 * subscription counts summed over the nodes and presence user counts from the shared store, the same
 * from either node; this node's channels first.
 */

const GUARD_MS = 10_000;

type ChannelList = { channels: Record<string, Record<string, number>> };

async function list(node: TestHerald, params: Record<string, string> = {}): Promise<ChannelList> {
  const response = await node.sdk().get({ path: '/channels', params });
  assert.equal(response.status, 200);
  return (await response.json()) as ChannelList;
}

/** Asks until the answer is `expected`: the nodes find each other by their first heartbeats. */
async function listedEventually(node: TestHerald, expected: ChannelList['channels']): Promise<void> {
  const deadline = Date.now() + GUARD_MS;
  let last: ChannelList | undefined;
  while (Date.now() < deadline) {
    last = await list(node, { info: 'subscription_count' });
    if (isDeepStrictEqual(last.channels, expected)) return;
  }
  assert.deepEqual(last?.channels, expected, 'the other node never answered');
}

/** A connection of `node` subscribed to `channels`; presence channels as `userId`. */
async function subscriber(node: TestHerald, channels: string[], userId = 'u'): Promise<RawClient> {
  const { client, socketId } = await RawClient.connect(node.wsUrl());
  for (const channel of channels) {
    const signed = channel.startsWith('presence-')
      ? node.sdk().authorizeChannel(socketId, channel, { user_id: userId })
      : {};
    const reply = await within(client.subscribe(channel, { ...signed }), GUARD_MS, `${channel}`);
    assert.equal(reply.event, 'pusher_internal:subscription_succeeded', channel);
  }
  return client;
}

describe('the channel list of a two-node cluster over redis', { skip: await brokerSkip('redis') }, () => {
  test('lists both nodes’ channels with counts summed over the nodes, the same from either node', async () => {
    const prefix = uniquePrefix('channel-list');
    const config = { adapter: { driver: 'redis' as const, url: REDIS_URL, prefix, heartbeatMs: 100 } };
    const a = await startHerald(config);
    const b = await startHerald(config);
    const clients: RawClient[] = [];
    try {
      clients.push(await subscriber(a, ['shared', 'only-a', 'presence-room'], 'u1'));
      clients.push(await subscriber(b, ['only-b', 'shared', 'presence-room'], 'u2'));
      clients.push(await subscriber(b, ['shared', 'presence-room'], 'u1'));

      const counts = {
        shared: { subscription_count: 3 },
        'only-a': { subscription_count: 1 },
        'only-b': { subscription_count: 1 },
        'presence-room': { subscription_count: 3 },
      };
      await listedEventually(a, counts);
      await listedEventually(b, counts);
      // The asking node's channels first, in the order they were first subscribed to there.
      const fromA = await list(a, { info: 'subscription_count' });
      assert.deepEqual(Object.keys(fromA.channels), ['shared', 'only-a', 'presence-room', 'only-b']);
      const fromB = await list(b, { info: 'subscription_count' });
      assert.deepEqual(Object.keys(fromB.channels), ['only-b', 'shared', 'presence-room', 'only-a']);

      for (const node of [a, b]) {
        assert.deepEqual(await list(node), {
          channels: { shared: {}, 'only-a': {}, 'only-b': {}, 'presence-room': {} },
        });
        assert.deepEqual(await list(node, { filter_by_prefix: 'only-' }), {
          channels: { 'only-a': {}, 'only-b': {} },
        });
        assert.deepEqual(
          await list(node, { filter_by_prefix: 'presence-', info: 'user_count,subscription_count' }),
          { channels: { 'presence-room': { user_count: 2, subscription_count: 3 } } },
        );
        assert.deepEqual(await list(node, { filter_by_prefix: 'nothing-' }), { channels: {} });
      }
    } finally {
      for (const client of clients) client.close();
      await Promise.all([a.stop(), b.stop()]);
      await deleteRedisPrefix(prefix);
    }
  });
});
