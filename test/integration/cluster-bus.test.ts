import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { nestedJsonText } from '../fuzz/harness.js';
import { brokerSkip, deleteRedisPrefix, destroyNatsBuckets, uniquePrefix } from '../helpers/brokers.js';
import {
  allTopic,
  BusClient,
  channelTopic,
  type Driver,
  type LogRecord,
  nodeTopic,
  recordingLogger,
} from '../helpers/bus.js';
import { startHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';
import { RawWampClient } from '../helpers/wamp-client.js';

/**
 * Messages on the cluster bus are untrusted (docs/security.md, "The cluster bus"): one that is
 * malformed, at any layer, is dropped and logged at warn with its topic, reaches no client, and the
 * valid traffic around it keeps flowing. A Herald in this process, its bus reached directly.
 */

const ROOM = 'bus-room';
const TOPIC = 'com.bus.topic';
const FAKE_NODE = randomUUID();

const frame = (event: string, channel = ROOM) =>
  JSON.stringify({ event, channel, data: JSON.stringify({ ok: true }) });
const busMsg = (ns: string, ch: string, d: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ t: 'msg', n: FAKE_NODE, ns, ch, d, ...extra });
const wire = (fields: Record<string, unknown>) =>
  JSON.stringify({
    t: TOPIC,
    p: 77,
    d: {},
    o: { excludeMe: true, disclose: false, retain: false },
    a: '["hello"]',
    ...fields,
  });

for (const driver of ['redis', 'nats'] as Driver[]) {
  describe(`bus messages over ${driver}`, { skip: await brokerSkip(driver) }, () => {
    test('malformed messages at every layer are dropped with a warning naming the topic; valid ones flow', async () => {
      const prefix = uniquePrefix(`bus-${driver}`);
      const { logger, records } = recordingLogger();
      const bus = await BusClient.connect(driver, prefix);
      const server = await startHerald(
        {
          adapter: {
            driver,
            url: driver === 'redis' ? 'redis://127.0.0.1:6379' : 'nats://127.0.0.1:4222',
            prefix,
          },
        },
        { logger },
      );
      const { client } = await RawClient.connect(server.wsUrl());
      const wamp = await RawWampClient.join(`ws://127.0.0.1:${server.port}/ws`);
      try {
        await within(client.subscribe(ROOM), 5000, 'subscription');
        const subscription = await wamp.subscribe(TOPIC);
        const node = await bus.nodeId();
        const room = channelTopic(prefix, `pusher:app-id`, ROOM);
        const realm = channelTopic(prefix, 'wamp:realm1', '');
        const calls = channelTopic(prefix, `wamp-node:${node}`, '');
        const all = allTopic(prefix);
        const own = nodeTopic(prefix, node);

        const malformed: [string, string, string][] = [
          // [topic, payload, what the warning must say]
          [all, 'not json', 'JSON'],
          [
            room,
            JSON.stringify({ t: 'msg', n: FAKE_NODE, ns: 1, ch: ROOM, d: 'x' }),
            'malformed msg message',
          ],
          [
            room,
            busMsg('pusher:app-id', ROOM, frame('unplaced'), { s: { e: 'epoch', o: 0 } }),
            'malformed msg message',
          ],
          [room, busMsg('pusher:app-id', ROOM, 'not a frame'), 'is not JSON'],
          [room, busMsg('pusher:app-id', ROOM, frame('sneaky', 'private-other')), 'another channel'],
          [room, busMsg('pusher:app-id', ROOM, '[1,2]'), 'not a JSON object'],
          [room, busMsg('pusher:app-id', ROOM, nestedJsonText(5000, 'object')), 'no event name'],
          [
            all,
            JSON.stringify({ t: 'req', n: FAKE_NODE, id: 'r1', op: 'pusher.subscriptions', p: null }),
            'pusher.subscriptions: the payload',
          ],
          [
            all,
            JSON.stringify({
              t: 'req',
              n: FAKE_NODE,
              id: 'r2',
              op: 'pusher.terminate',
              p: { appId: 'app-id', userId: 5 },
            }),
            'pusher.terminate: userId',
          ],
          [
            all,
            JSON.stringify({
              t: 'cast',
              n: FAKE_NODE,
              op: 'pusher.watchlist',
              p: { appId: 'app-id', userId: 'u', name: 'gone' },
            }),
            'no event "gone"',
          ],
          [
            all,
            JSON.stringify({
              t: 'req',
              n: FAKE_NODE,
              id: 'r3',
              op: 'webhooks.cancel-held',
              p: { appId: [] },
            }),
            'webhooks.cancel-held: appId',
          ],
          [
            all,
            JSON.stringify({
              t: 'req',
              n: FAKE_NODE,
              id: 'r4',
              op: 'wamp.lookup',
              p: { realm: 'realm1', procedure: 'p', match: 'fuzzy' },
            }),
            'no match policy',
          ],
          [
            all,
            JSON.stringify({
              t: 'req',
              n: FAKE_NODE,
              id: 'r5',
              op: 'wamp.meta',
              p: { realm: 'realm1', node: 'x', procedure: 'wamp.session.count', args: {}, kwargs: {} },
            }),
            'wamp.meta: args',
          ],
          [
            own,
            JSON.stringify({ t: 'req', n: FAKE_NODE, id: 'r6', op: 'no.such.op', p: {} }),
            'no operation "no.such.op"',
          ],
          [
            realm,
            busMsg('wamp:realm1', '', wire({ a: '{"not":"a list"}' })),
            'Arguments must be the JSON text of a list',
          ],
          [realm, busMsg('wamp:realm1', '', wire({ a: nestedJsonText(500) })), 'nests deeper'],
          [realm, busMsg('wamp:realm1', '', wire({ d: { publisher: 'me' } })), 'publisher must be an ID'],
          [realm, busMsg('wamp:realm1', '', wire({ o: { excludeMe: 'yes' } })), 'malformed options'],
          [realm, busMsg('wamp:realm1', '', '[36'), 'publication is not JSON'],
          [
            calls,
            busMsg(
              `wamp-node:${node}`,
              '',
              JSON.stringify({ n: FAKE_NODE, r: 'realm1', m: { k: 'out', c: 1, m: [36, 1, 2, {}] } }),
            ),
            'neither a RESULT nor an ERROR',
          ],
          [
            calls,
            busMsg(
              `wamp-node:${node}`,
              '',
              JSON.stringify({
                n: FAKE_NODE,
                r: 'realm1',
                m: { k: 'call', c: 1, ca: 'a', cr: 'r', q: 1, u: 'p', o: [] },
              }),
            ),
            'call: options must be a dict',
          ],
          [
            calls,
            busMsg(
              `wamp-node:${node}`,
              '',
              JSON.stringify({ n: FAKE_NODE, r: 'realm1', m: { k: 'boom', c: 1 } }),
            ),
            'unknown kind',
          ],
          // Answered, its ERROR would go to the topic of a node named by 10,000 characters: NATS refuses
          // a subject that long by closing the connection, and what was in flight on it is lost.
          [
            calls,
            busMsg(
              `wamp-node:${node}`,
              '',
              JSON.stringify({
                n: 'x'.repeat(10_000),
                r: 'realm1',
                m: { k: 'call', c: 1, ca: 'a', cr: 'r', q: 1, u: 'com.bus.proc', o: {} },
              }),
            ),
            'the node is not a node id',
          ],
        ];
        for (const [topic, payload, says] of malformed) {
          const mark = records.length;
          await bus.publish(topic, payload);
          const warned = (r: LogRecord) =>
            r.msg === 'malformed cluster message dropped' &&
            r.topic === topic &&
            String(r.reason).includes(says);
          await until(
            () => records.slice(mark).some(warned),
            `a warning about ${payload.slice(0, 120)}: "${says}"`,
          );
          const warning = records.slice(mark).find(warned)!;
          assert.equal(warning.level, 40, 'logged at warn');
        }

        // Valid traffic from the same (forged) node still flows, to Pusher and WAMP subscribers alike.
        await bus.publish(room, busMsg('pusher:app-id', ROOM, frame('after')));
        await within(client.next('after'), 5000, 'a valid event after the malformed ones');
        await bus.publish(realm, busMsg('wamp:realm1', '', wire({ p: 78, a: '["valid"]' })));
        const event = await within(wamp.next(36), 5000, 'a valid publication after the malformed ones');
        assert.deepEqual([event[1], event[2], event[4]], [subscription, 78, ['valid']]);
        // Nothing malformed reached a client: the only events are the valid ones.
        assert.deepEqual(
          client.frames.filter((f) => f.channel === ROOM).map((f) => f.event),
          [],
          'no other Pusher event',
        );
        assert.deepEqual(wamp.messages, [], 'no other WAMP message');
        assert.equal(records.filter((r) => r.level >= 50).length, 0, 'nothing logged as an error');
      } finally {
        client.close();
        wamp.close();
        await server.stop();
        await bus.close();
        if (driver === 'redis') await deleteRedisPrefix(prefix);
        else await destroyNatsBuckets(prefix, ['presence', 'occupancy', 'cache', 'outbox']);
      }
    });
  });
}
