import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type AutobahnSession, closeAutobahn, openAutobahn } from '../helpers/autobahn.js';
import { within } from '../helpers/raw-client.js';
import { RawWampClient, type Serialization } from '../helpers/wamp-client.js';
import { autobahnServer } from '../helpers/wamp-server.js';

/**
 * Event history (WAMP spec, Advanced Profile, Event History; Crossbar's `store.event-history`): the
 * realm keeps the newest events of the topics each rule matches, and `wamp.subscription.get_events`
 * returns them, newest first, to a client of the subscription to the rule's (uri, match).
 */

const GUARD_MS = 5000;
const MAX_EVENT_BYTES = 1024;

interface HistoryEvent {
  timestamp: string;
  subscription: number;
  publication: number;
  topic: string;
  details: Record<string, unknown>;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
}

/** Whether `err` is an autobahn-js error carrying `uri`. */
const refusedWith = (uri: string) => (err: unknown) => {
  assert.equal((err as { error?: string }).error, uri);
  return true;
};

describe('WAMP event history on one node', () => {
  const server = autobahnServer({
    wamp: {
      realms: [
        {
          name: 'realm1',
          maxHistoryEventBytes: MAX_EVENT_BYTES,
          eventHistory: [
            { uri: 'com.hist.exact', limit: 3 },
            { uri: 'com.hist.', match: 'prefix', limit: 5 },
            { uri: 'com..w', match: 'wildcard', limit: 2 },
          ],
          roles: [
            {
              name: 'anonymous',
              permissions: [
                { uri: '', match: 'prefix', allow: { call: true, publish: true, subscribe: true } },
              ],
            },
            {
              name: 'reader',
              permissions: [
                { uri: 'wamp.', match: 'prefix', allow: { call: true } },
                { uri: 'com.hist.', match: 'prefix', allow: { subscribe: true } },
              ],
            },
          ],
        },
      ],
      auth: {
        anonymous: { role: 'anonymous' },
        ticket: { principals: { ops: { ticket: 't', role: 'reader' } } },
      },
    },
  });
  const join = (): Promise<AutobahnSession> => server.session();
  const raw = async (serialization: Serialization = 'json') => server.join({ serialization });
  const publish = async (s: AutobahnSession, topic: string, args: unknown[], options = {}) =>
    (await s.publish(topic, args, {}, { acknowledge: true, ...options }))!.id;
  const events = (s: AutobahnSession, subscription: number, ...rest: unknown[]) =>
    s.call<HistoryEvent[]>('wamp.subscription.get_events', [subscription, ...rest]);

  test('autobahn-js: the newest events of a prefix rule, newest first, with topic and payload', async () => {
    const publisher = await join();
    const reader = await join();
    const sub = await reader.subscribe('com.hist.', () => {}, { match: 'prefix' });
    const published: number[] = [];
    for (let i = 1; i <= 7; i++) {
      const options = i === 7 ? { disclose_me: true } : {};
      published.push(await publish(publisher, `com.hist.t${i % 2}`, [i], options));
    }
    const all = await events(reader, sub.id, 100);
    assert.deepEqual(
      all.map((e) => e.publication),
      published.slice(-5).reverse(),
      'the rule keeps 5, newest first',
    );
    assert.deepEqual(
      all.map((e) => [e.topic, e.details.topic, e.args]),
      [7, 6, 5, 4, 3].map((i) => [`com.hist.t${i % 2}`, `com.hist.t${i % 2}`, [i]]),
    );
    assert.ok(all.every((e) => e.subscription === sub.id));
    assert.ok(all.every((e) => !Number.isNaN(Date.parse(e.timestamp))));
    assert.equal(all[0]!.details.publisher, publisher.id, 'disclosed: the publisher');
    assert.equal(all[0]!.details.publisher_authrole, 'anonymous');
    assert.equal(all[1]!.details.publisher, undefined, 'not disclosed: no publisher');
    assert.deepEqual(
      (await events(reader, sub.id, 2)).map((e) => e.publication),
      published.slice(-2).reverse(),
    );
    assert.equal((await events(reader, sub.id)).length, 5, 'Crossbar’s default limit, 10, is more than kept');
    const byKeyword = await reader.call<HistoryEvent[]>('wamp.subscription.get_events', [sub.id], {
      limit: 1,
    });
    assert.deepEqual(
      byKeyword.map((e) => e.publication),
      published.slice(-1),
    );
  });

  test('events are kept with nobody subscribed, and an event kept by two rules is in both', async () => {
    const publisher = await join();
    const first = await publish(publisher, 'com.hist.exact', ['a'], {});
    const second = await publish(publisher, 'com.hist.exact', [], { kwargs: 'no' });
    const third = await publish(publisher, 'com.hist.exact', ['c']);
    const fourth = await publish(publisher, 'com.hist.exact', ['d']);
    const reader = await join();
    const exact = await reader.subscribe('com.hist.exact', () => {});
    const prefix = await reader.subscribe('com.hist.', () => {}, { match: 'prefix' });
    const onExact = await events(reader, exact.id, 10);
    assert.deepEqual(
      onExact.map((e) => e.publication),
      [fourth, third, second],
      'the exact rule keeps 3; the first is gone',
    );
    assert.equal(onExact[0]!.details.topic, undefined, 'an exact subscription’s EVENT has no topic');
    assert.ok(!onExact.some((e) => e.publication === first));
    assert.deepEqual(
      (await events(reader, prefix.id, 4)).map((e) => e.publication),
      [fourth, third, second, first],
    );
  });

  test('a wildcard rule; the kept events go to JSON, MessagePack and CBOR clients, binary included', async () => {
    const publisher = await raw('msgpack');
    const request = publisher.id();
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    publisher.send([16, request, { acknowledge: true }, 'com.x.w', [bytes, 'text'], { k: 1 }]);
    const published = await within(publisher.reply(request, [17, 8]), GUARD_MS, 'PUBLISHED');
    assert.equal(published[0], 17);
    for (const serialization of ['json', 'msgpack', 'cbor'] as const) {
      const reader = await raw(serialization);
      const sub = await reader.subscribe('com..w', { match: 'wildcard' });
      const reply = await within(reader.call('wamp.subscription.get_events', [sub, 1]), GUARD_MS, 'RESULT');
      assert.equal(reply[0], 50, JSON.stringify(reply));
      const [event] = (reply[3] as HistoryEvent[][])[0]!;
      assert.equal(event!.publication, published[2]);
      assert.equal(event!.details.topic, 'com.x.w');
      assert.deepEqual(event!.kwargs, { k: 1 });
      const got = event!.args![0];
      const asBytes =
        serialization === 'json'
          ? Buffer.from((got as string).slice(1), 'base64')
          : Buffer.from(got as Uint8Array);
      if (serialization === 'json') assert.equal((got as string).charCodeAt(0), 0, 'JSON: \\0 + base64');
      assert.deepEqual([...asBytes], [...bytes]);
      assert.equal(event!.args![1], 'text');
    }
  });

  test('not kept: events with session lists, events over maxHistoryEventBytes; authid and authrole lists filter on read', async () => {
    const publisher = await join();
    const reader = await join();
    const prefix = (await reader.subscribe('com.hist.', () => {}, { match: 'prefix' })).id;
    const before = (await events(reader, prefix, 5)).map((e) => e.publication);
    const refusals = () => server.herald.herald.limitRefusals.get('wamp_history_bytes');
    const refused = refusals();
    await publish(publisher, 'com.hist.lists', ['excluded'], { exclude: [reader.id] });
    await publish(publisher, 'com.hist.lists', ['eligible'], { eligible: [reader.id] });
    await publish(publisher, 'com.hist.lists', ['x'.repeat(MAX_EVENT_BYTES)]);
    assert.equal(refusals(), refused + 1, 'the large event counts as a refusal');
    const forOps = await publish(publisher, 'com.hist.lists', ['ops only'], { eligible_authid: ['ops'] });
    const notAnonymous = await publish(publisher, 'com.hist.lists', ['not anonymous'], {
      exclude_authrole: ['anonymous'],
    });
    assert.deepEqual(
      (await events(reader, prefix, 5)).map((e) => e.publication),
      before.slice(0, 3),
      'the anonymous reader sees none of them; the two kept take two of the rule’s 5 places',
    );
    const ops = server.track(await RawWampClient.open(server.url));
    const challenge = await ops.hello('realm1', { authmethods: ['ticket'], authid: 'ops' });
    assert.equal(challenge[0], 4);
    ops.send([5, 't', {}]);
    await within(ops.next(2), GUARD_MS, 'WELCOME');
    const reply = await within(ops.call('wamp.subscription.get_events', [prefix, 2]), GUARD_MS, 'as ops');
    assert.equal(reply[0], 50, JSON.stringify(reply));
    assert.deepEqual(
      (reply[3] as HistoryEvent[][])[0]!.map((e) => e.publication),
      [notAnonymous, forOps],
      'ops, of role reader, sees both',
    );
    const wildcard = (await reader.subscribe('com..w', () => {}, { match: 'wildcard' })).id;
    const refusal = await within(ops.call('wamp.subscription.get_events', [wildcard]), GUARD_MS, 'refusal');
    assert.deepEqual(
      [refusal[0], refusal[4]],
      [8, 'wamp.error.not_authorized'],
      'ops may not subscribe to com..w',
    );
  });

  test('errors: unknown subscription, a subscription without history, bad arguments', async () => {
    const reader = await join();
    const plain = await reader.subscribe('com.plain', () => {});
    await assert.rejects(events(reader, 1), refusedWith('wamp.error.no_such_subscription'));
    await assert.rejects(events(reader, plain.id), refusedWith('wamp.error.history_unavailable'));
    const hist = await reader.subscribe('com.hist.exact', () => {});
    for (const args of [['1'], [], [hist.id, 0], [hist.id, 1.5], [hist.id, '3'], [hist.id, 1, 2], [-1]]) {
      await assert.rejects(
        reader.call('wamp.subscription.get_events', args),
        refusedWith('wamp.error.invalid_argument'),
        JSON.stringify(args),
      );
    }
    await assert.rejects(
      reader.call('wamp.subscription.get_events', [hist.id], { reverse: true }),
      refusedWith('wamp.error.invalid_argument'),
    );
    await assert.rejects(
      reader.call('wamp.subscription.get_events', [hist.id, 2], { limit: 2 }),
      refusedWith('wamp.error.invalid_argument'),
    );
  });

  test('WELCOME announces event_history on the broker', async () => {
    const { connection, details } = await openAutobahn({ url: server.url, realm: 'realm1' });
    await closeAutobahn(connection);
    const roles = (details as unknown as { roles: { broker: { features: Record<string, boolean> } } }).roles;
    assert.equal(roles.broker.features.event_history, true);
  });
});
