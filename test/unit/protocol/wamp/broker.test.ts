import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BrokerContext, MemoryBroker } from '../../../../src/protocol/wamp/broker.js';
import { WampUri } from '../../../../src/protocol/wamp/errors.js';
import type { Dict } from '../../../../src/protocol/wamp/messages.js';
import { MessageType as T } from '../../../../src/protocol/wamp/messages.js';
import { Payload } from '../../../../src/protocol/wamp/payload.js';
import { acknowledged, authorizer, eventLog, FakePeer, silentLogger } from './fake-peer.js';

/** A broker whose events are recorded in `events` (see `eventLog`). */
function setup(options: Partial<BrokerContext> = {}) {
  const log = eventLog();
  const broker = new MemoryBroker({
    authorizer,
    logger: silentLogger,
    uriCheck: 'loose',
    events: { subscribed: log.joined, unsubscribed: log.left },
    ...options,
  });
  return { broker, events: log.lines };
}

/** Subscribes `peer` and gives the subscription ID from its SUBSCRIBED. */
function subscribe(broker: MemoryBroker, peer: FakePeer, topic: string, options: Dict = {}): number {
  broker.subscribe(peer, 1, options, topic);
  return acknowledged(peer, T.SUBSCRIBED);
}

const refusal = (uri: string) => (err: { uri?: string }) => err.uri === uri;

describe('MemoryBroker: subscribing', () => {
  test('one subscription per (topic, match), shared by its subscribers; the same session again gets the same ID', () => {
    const { broker, events } = setup();
    const [a, b] = [new FakePeer(1), new FakePeer(2)];
    broker.subscribe(a, 7, {}, 'com.news');
    const [[type, request, id]] = a.take() as [[number, number, number]];
    assert.deepEqual([type, request], [T.SUBSCRIBED, 7]);
    assert.equal(subscribe(broker, b, 'com.news'), id);
    assert.equal(subscribe(broker, a, 'com.news'), id);
    assert.notEqual(subscribe(broker, a, 'com.news', { match: 'prefix' }), id);
    assert.deepEqual(events, [
      '+1 exact com.news created',
      '+2 exact com.news',
      '+1 prefix com.news created',
    ]);
    assert.equal(broker.byId(id)?.subscribers.size, 2);
    assert.equal(broker.lookup('com.news', 'exact')?.id, id);
  });

  test('unsubscribing sends UNSUBSCRIBED, ends the events, and drops the subscription with its last subscriber', () => {
    const { broker, events } = setup();
    const [a, b, publisher] = [new FakePeer(1), new FakePeer(2), new FakePeer(3)];
    const id = subscribe(broker, a, 'com.news');
    subscribe(broker, b, 'com.news');
    broker.unsubscribe(a, 9, id);
    assert.deepEqual(a.take(), [[T.UNSUBSCRIBED, 9]]);
    broker.publish(publisher, 1, {}, 'com.news', undefined);
    assert.deepEqual(a.take(), []);
    assert.equal(b.take().length, 1);
    assert.throws(() => broker.unsubscribe(a, 10, id), refusal(WampUri.NO_SUCH_SUBSCRIPTION));
    broker.unsubscribe(b, 11, id);
    assert.equal(broker.byId(id), undefined);
    assert.deepEqual(events.slice(2), ['-1 exact com.news', '-2 exact com.news deleted']);
  });

  test('a bad URI, an unknown match policy and a role without permission are refused', () => {
    const { broker } = setup();
    const guest = new FakePeer(1, {}, 'g', 'guest');
    assert.throws(() => broker.subscribe(guest, 1, {}, 'com..x'), refusal(WampUri.INVALID_URI));
    assert.throws(
      () => broker.subscribe(guest, 1, { match: 'regex' }, 'x'),
      refusal(WampUri.INVALID_ARGUMENT),
    );
    assert.throws(() => broker.subscribe(guest, 1, {}, 'closed.x'), refusal(WampUri.NOT_AUTHORIZED));
    assert.ok(subscribe(broker, guest, 'open.x'));
  });

  test('a session holds at most maxSubscriptionsPerSession subscriptions; subscribing again takes no slot', () => {
    const refused: string[] = [];
    const { broker } = setup({ maxSubscriptionsPerSession: 2, refused: (limit) => refused.push(limit) });
    const peer = new FakePeer(1);
    subscribe(broker, peer, 'a');
    subscribe(broker, peer, 'b');
    subscribe(broker, peer, 'a');
    assert.throws(() => broker.subscribe(peer, 1, {}, 'c'), refusal(WampUri.LIMIT_EXCEEDED));
    assert.deepEqual(refused, ['wamp_subscriptions_per_session']);
  });

  test('a leaving session drops its subscriptions, each reported once', () => {
    const { broker } = setup();
    const [a, b] = [new FakePeer(1), new FakePeer(2)];
    subscribe(broker, a, 'x');
    subscribe(broker, a, 'y');
    subscribe(broker, b, 'y');
    const gone = broker.removeSession(a).map(({ subscription, deleted }) => [subscription.uri, deleted]);
    assert.deepEqual(gone, [
      ['x', true],
      ['y', false],
    ]);
    assert.deepEqual(broker.removeSession(a), []);
    assert.equal(broker.stats().subscriptions, 1);
  });
});

describe('MemoryBroker: publishing', () => {
  test('an exact subscription gets EVENT with the payload; the publisher only with exclude_me: false', () => {
    const { broker } = setup();
    const [subscriber, publisher] = [new FakePeer(1), new FakePeer(2)];
    const id = subscribe(broker, subscriber, 'com.news');
    const own = subscribe(broker, publisher, 'com.news');
    broker.publish(publisher, 5, {}, 'com.news', Payload.of(['hello'], { lang: 'en' }));
    const [[type, subscription, publication, details, args, kwargs]] = subscriber.take() as [unknown[]];
    assert.deepEqual(
      [type, subscription, details, args, kwargs],
      [T.EVENT, id, {}, ['hello'], { lang: 'en' }],
    );
    assert.equal(typeof publication, 'number');
    assert.deepEqual(publisher.take(), []);

    broker.publish(publisher, 6, { exclude_me: false }, 'com.news', undefined);
    assert.equal(subscriber.take().length, 1);
    assert.deepEqual(
      publisher.take().map((m) => [m[0], m[1]]),
      [[T.EVENT, own]],
    );
  });

  test('PUBLISHED only for an acknowledged publication, with the ID its EVENTs carry', () => {
    const { broker } = setup();
    const [subscriber, publisher] = [new FakePeer(1), new FakePeer(2)];
    subscribe(broker, subscriber, 't');
    broker.publish(publisher, 3, {}, 't', undefined);
    assert.deepEqual(publisher.take(), []);
    broker.publish(publisher, 4, { acknowledge: true }, 't', undefined);
    const [[, request, publication]] = publisher.take() as [[number, number, number]];
    assert.equal(request, 4);
    assert.equal(subscriber.take().at(-1)?.[2], publication);
  });

  test('prefix and wildcard subscriptions get the topic in the details; one EVENT per matching subscription', () => {
    const { broker } = setup();
    const [peer, publisher] = [new FakePeer(1), new FakePeer(2)];
    const exact = subscribe(broker, peer, 'com.app.user.x');
    const prefix = subscribe(broker, peer, 'com.app.', { match: 'prefix' });
    const wildcard = subscribe(broker, peer, 'com..user.', { match: 'wildcard' });
    broker.publish(publisher, 1, {}, 'com.app.user.x', undefined);
    const events = peer.take();
    assert.deepEqual(events.map((m) => m[1]).sort(), [exact, prefix, wildcard].sort());
    assert.equal(new Set(events.map((m) => m[2])).size, 1, 'one publication ID');
    const detailsOf = (id: number) => events.find((m) => m[1] === id)?.[3];
    assert.deepEqual(detailsOf(exact), {});
    assert.deepEqual(detailsOf(prefix), { topic: 'com.app.user.x' });
    assert.deepEqual(detailsOf(wildcard), { topic: 'com.app.user.x' });

    // A prefix is a string prefix; a wildcard needs as many components.
    broker.publish(publisher, 1, {}, 'com.app2', undefined);
    broker.publish(publisher, 1, {}, 'com.app.user.x.y', undefined);
    assert.deepEqual(
      peer.take().map((m) => m[1]),
      [prefix],
    );
    broker.publish(publisher, 1, {}, 'com.applet.x', undefined);
    assert.deepEqual(peer.take(), []);
  });

  test('eligible and exclude lists by session, authid and authrole must all let a subscriber through', () => {
    const { broker } = setup();
    const peers = [new FakePeer(1, {}, 'ann', 'anonymous'), new FakePeer(2, {}, 'bob', 'anonymous')];
    const carol = new FakePeer(3, {}, 'carol', 'guest');
    for (const p of [...peers, carol]) subscribe(broker, p, 'open.t');
    const publisher = new FakePeer(9);
    const reached = (options: Dict) => {
      broker.publish(publisher, 1, options, 'open.t', undefined);
      return [...peers, carol].filter((p) => p.take().length > 0).map((p) => p.authid);
    };
    assert.deepEqual(reached({}), ['ann', 'bob', 'carol']);
    assert.deepEqual(reached({ eligible: [1, 3] }), ['ann', 'carol']);
    assert.deepEqual(reached({ exclude: 2 }), ['ann', 'carol']);
    assert.deepEqual(reached({ eligible_authid: ['bob', 'carol'], exclude_authrole: ['guest'] }), ['bob']);
    assert.deepEqual(reached({ eligible_authrole: ['anonymous'], exclude_authid: ['ann'] }), ['bob']);
    assert.deepEqual(reached({ eligible: [1], exclude: [1] }), []);
    assert.throws(
      () => broker.publish(publisher, 1, { eligible: ['x'] }, 'open.t', undefined),
      refusal(WampUri.INVALID_ARGUMENT),
    );
  });

  test('disclose_me names the publisher in the details', () => {
    const { broker } = setup();
    const [subscriber, publisher] = [new FakePeer(1), new FakePeer(2, {}, 'pub', 'anonymous')];
    subscribe(broker, subscriber, 't');
    broker.publish(publisher, 1, { disclose_me: true }, 't', undefined);
    assert.deepEqual(subscriber.take()[0]?.[3], {
      publisher: 2,
      publisher_authid: 'pub',
      publisher_authrole: 'anonymous',
    });
  });

  test('a bad or reserved topic and a role without permission are refused', () => {
    const { broker } = setup();
    const peer = new FakePeer(1);
    assert.throws(() => broker.publish(peer, 1, {}, 'a..b', undefined), refusal(WampUri.INVALID_URI));
    assert.throws(
      () => broker.publish(peer, 1, {}, 'wamp.session.on_join', undefined),
      refusal(WampUri.INVALID_URI),
    );
    const guest = new FakePeer(2, {}, 'g', 'guest');
    assert.throws(() => broker.publish(guest, 1, {}, 'open.t', undefined), refusal(WampUri.NOT_AUTHORIZED));
  });

  test('a retained event reaches later subscribers that ask for it, marked retained, if they are eligible', () => {
    const { broker } = setup();
    const publisher = new FakePeer(9);
    broker.publish(publisher, 1, { retain: true }, 'com.state.a', Payload.of([1]));
    broker.publish(publisher, 1, { retain: true }, 'com.state.a', Payload.of([2]));
    broker.publish(publisher, 1, { retain: true, eligible: [5] }, 'com.state.b', Payload.of([3]));

    const late = new FakePeer(1);
    subscribe(broker, late, 'com.state.a');
    assert.deepEqual(late.take(), [], 'only with get_retained');
    const asking = new FakePeer(2);
    broker.subscribe(asking, 4, { match: 'prefix', get_retained: true }, 'com.state.');
    const [[type, request, id], ...events] = asking.take() as [unknown[], ...unknown[][]];
    assert.deepEqual([type, request], [T.SUBSCRIBED, 4]);
    assert.deepEqual(
      events.map((m) => [m[0], m[1], m[3], m[4]]),
      [[T.EVENT, id, { topic: 'com.state.a', retained: true }, [2]]],
    );
    assert.equal(broker.stats().retainedTopics, 2);
  });
});
