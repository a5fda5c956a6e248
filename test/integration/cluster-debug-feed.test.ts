import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DebugEvent, DebugItem } from '../../src/core/debug-feed.js';
import { hashPassword } from '../../src/dashboard/auth.js';
import { FORWARD_PER_SECOND } from '../../src/dashboard/cluster-feed.js';
import { brokerSkip, NATS_URL, REDIS_URL, uniquePrefix } from '../helpers/brokers.js';
import { cleanup, type Driver } from '../helpers/cluster.js';
import { dashboardSession, openConsole } from '../helpers/dashboard.js';
import { collect, is } from '../helpers/debug-watch.js';
import { APP, connected, nextEvent, startHerald, type TestHerald } from '../helpers/herald.js';
import { until } from '../helpers/wait.js';
import { RawWampClient } from '../helpers/wamp-client.js';

/**
 * The debug feed across a two-node cluster, over Redis and again over NATS: a watcher on node A gets
 * what happens on node B, with B's node id, and B forwards nothing before A watches or after A's
 * watcher leaves; under an overload B forwards at most its cap a second, and A's watchers, the
 * dashboard's console among them, are told how many it held back.
 */

const NS = `pusher:${APP.id}`;
const PASSWORD = 'cluster console password';

/** Runs `body` on two nodes A and B sharing `driver`, each with the dashboard on for `ada`. */
async function withTwoNodes(
  driver: Driver,
  body: (a: TestHerald, b: TestHerald) => Promise<void>,
): Promise<void> {
  const prefix = uniquePrefix(`debug-feed-${driver}`);
  const config = {
    adapter: { driver, url: driver === 'redis' ? REDIS_URL : NATS_URL, prefix, heartbeatMs: 100 },
    wamp: { realms: [{ name: 'realm1' }] },
    dashboard: { enabled: true, users: [{ name: 'ada', passwordHash: await hashPassword(PASSWORD) }] },
  };
  const nodes: TestHerald[] = [];
  try {
    nodes.push(await startHerald(config));
    nodes.push(await startHerald(config));
    await body(nodes[0]!, nodes[1]!);
  } finally {
    for (const node of nodes.reverse()) await node.stop();
    await cleanup(driver, prefix);
  }
}

/** The events of `items` that happened on `node`, and the counts of the dropped markers added up. */
function tally(items: readonly DebugItem[], node: string): { events: DebugEvent[]; dropped: number } {
  const events = items.filter((i): i is DebugEvent => i.type !== 'dropped' && i.node === node);
  const dropped = items.reduce((sum, i) => sum + (i.type === 'dropped' ? i.count : 0), 0);
  return { events, dropped };
}

/**
 * The most events in one of the forwarding cap's windows, rebuilt from the times of the events
 * forwarded: a window opens with the first event a second or more after the last window opened, and
 * that event is always forwarded, so the forwarded ones show where every window began.
 */
function mostInAWindow(times: readonly number[]): number {
  let most = 0;
  let start = Number.NEGATIVE_INFINITY;
  let inWindow = 0;
  for (const t of [...times].sort((x, y) => x - y)) {
    if (t - start >= 1000) {
      start = t;
      inWindow = 0;
    }
    most = Math.max(most, ++inWindow);
  }
  return most;
}

for (const driver of ['redis', 'nats'] as const) {
  describe(`the debug feed of a two-node cluster over ${driver}`, { skip: await brokerSkip(driver) }, () => {
    test("node B's events reach a watcher on node A, and stop once it leaves", () =>
      withTwoNodes(driver, async (a, b) => {
        const clients: RawWampClient[] = [];
        try {
          const bFeed = b.herald.debugFeed;
          assert.equal(bFeed.watched(NS), false, 'B forwards nothing while nobody watches');

          const seen = collect(a.herald.debugFeed, NS);
          const realm = collect(a.herald.debugFeed, 'wamp:realm1');
          await until(() => bFeed.watched(NS) && bFeed.watched('wamp:realm1'), 'B told of the watchers');

          const client = b.client();
          const socketId = await connected(client);
          await nextEvent(client.subscribe('room'), 'pusher:subscription_succeeded');
          const subscribed = (await seen.find(
            is('subscribed', { socketId }),
            'the subscribe on B',
          )) as DebugEvent;
          assert.equal(subscribed.node, bFeed.node);
          assert.notEqual(subscribed.node, a.herald.debugFeed.node);
          assert.equal(subscribed.channel, 'room');
          const opened = (await seen.find(
            is('connection_opened', { socketId }),
            'the connection',
          )) as DebugEvent;
          assert.equal(opened.node, bFeed.node);

          const session = await RawWampClient.join(`ws://127.0.0.1:${b.port}/ws`);
          clients.push(session);
          const joined = (await realm.find(
            is('session_joined', { session: session.sessionId }),
            'the WAMP session on B',
          )) as DebugEvent;
          assert.equal(joined.node, bFeed.node);

          // Events of A itself come once: from A's own feed, not echoed back over the bus.
          const local = a.client();
          const localId = await connected(local);
          await seen.find(is('connection_opened', { socketId: localId }), 'the connection on A');
          await nextEvent(client.subscribe('room-2'), 'pusher:subscription_succeeded');
          await seen.find(is('subscribed', { channel: 'room-2' }), 'a later event from B');
          assert.equal(seen.items.filter(is('connection_opened', { socketId: localId })).length, 1);

          seen.watcher.close();
          realm.watcher.close();
          await until(() => !bFeed.watched(NS) && !bFeed.watched('wamp:realm1'), 'B no longer forwarding');
          const after = collect(b.herald.debugFeed, NS);
          client.unsubscribe('room-2');
          await after.find(is('unsubscribed', { channel: 'room-2' }), 'the unsubscribe, on B itself');
          assert.equal(
            seen.items.some((e) => e.type === 'unsubscribed'),
            false,
            'the closed watcher got nothing more',
          );
          after.watcher.close();
        } finally {
          for (const c of clients) c.close();
        }
      }));

    test("an overload on node B is forwarded up to the cap, and A's console is told what was held back", () =>
      withTwoNodes(driver, async (a, b) => {
        const bNode = b.herald.debugFeed.node;
        // A watcher that takes whatever comes, so that every drop it is told of is B's, and the
        // dashboard's own console, as an operator's browser reads it.
        const seen = collect(a.herald.debugFeed, NS);
        const cookie = await dashboardSession(a.httpUrl, 'ada', PASSWORD);
        const stream = await openConsole(a.httpUrl, `/apps/${APP.id}/console`, cookie);
        try {
          await until(() => b.herald.debugFeed.watched(NS), 'B told of the watchers');

          // 20 requests to the HTTP API of B at once, each publishing to 100 channels: 2,000
          // api_message events on B, in far less time than B may forward them.
          const sdk = b.sdk();
          const requests = 20;
          const channels = 100;
          const total = requests * channels;
          await Promise.all(
            Array.from({ length: requests }, (_, r) =>
              sdk.trigger(
                Array.from({ length: channels }, (_, c) => `burst-${r}-${c}`),
                'burst',
                { r },
              ),
            ),
          );

          // Every event is accounted for: forwarded, or counted in a marker (the last one at B's
          // next renewal, when no event follows it).
          await until(() => {
            const { events, dropped } = tally(seen.items, bNode);
            return events.length + dropped === total;
          }, 'every event of B forwarded or told as dropped');
          const { events, dropped } = tally(seen.items, bNode);
          assert.ok(dropped > 0, 'B held events back');
          assert.ok(events.every((e) => e.type === 'api_message' && e.event === 'burst'));
          assert.ok(
            mostInAWindow(events.map((e) => e.time)) <= FORWARD_PER_SECOND,
            `at most ${FORWARD_PER_SECOND} events forwarded a second`,
          );

          // The console gets B's markers as they come, with what it dropped itself added: it is
          // told at least what B held back, and never of more events than B had.
          await stream.until(() => tally(stream.items, bNode).dropped >= dropped, "B's drops on the console");
          const onConsole = tally(stream.items, bNode);
          assert.ok(onConsole.events.length + onConsole.dropped <= total);
          assert.ok(stream.items.some((i) => i.type === 'dropped'));
        } finally {
          stream.close();
          seen.watcher.close();
        }
      }));
  });
}
