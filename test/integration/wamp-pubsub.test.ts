import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { within } from '../helpers/raw-client.js';
import { RawWampClient, type WampMessage } from '../helpers/wamp-client.js';
import { wampServer } from '../helpers/wamp-server.js';

const ALL = { call: true, register: true, publish: true, subscribe: true };

describe('WAMP publish and subscribe', () => {
  const server = wampServer({
    wamp: {
      realms: [
        {
          name: 'realm1',
          roles: [
            { name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: ALL }] },
            { name: 'admin', permissions: [{ uri: '', match: 'prefix', allow: ALL }] },
          ],
        },
        {
          name: 'disclosing',
          roles: [
            {
              name: 'anonymous',
              permissions: [
                { uri: '', match: 'prefix', allow: ALL, disclose: { publisher: true, caller: false } },
              ],
            },
          ],
        },
        { name: 'strict', uriCheck: 'strict' },
        { name: 'forgetful', maxRetainedTopics: 2 },
      ],
      auth: {
        anonymous: { role: 'anonymous' },
        ticket: { principals: { root: { ticket: 'root-ticket', role: 'admin' } } },
      },
    },
  });
  const join = (options?: Parameters<typeof server.join>[0]) => server.join(options);
  let topics = 0;
  /** A topic no other test uses. */
  const topic = (name = 'topic') => `com.test${++topics}.${name}`;
  const event = (c: RawWampClient, subscription: number) =>
    within(
      c.next((m) => m[0] === 36 && m[1] === subscription),
      2000,
      `EVENT on ${subscription}`,
    );
  /**
   * Publishes `[n]` to a sentinel topic `c` is subscribed to and waits for that EVENT: since one
   * publisher's events arrive in order, whatever `c` did not get before it, it will not get at all.
   */
  const settle = async (publisher: RawWampClient, ...cs: RawWampClient[]) => {
    const sentinel = topic('sentinel');
    const subs = await Promise.all(cs.map((c) => c.subscribe(sentinel)));
    publisher.send([16, publisher.id(), { exclude_me: false }, sentinel]);
    await Promise.all(cs.map((c, i) => event(c, subs[i]!)));
  };
  const publish = async (
    c: RawWampClient,
    t: string,
    args: unknown[],
    options: Record<string, unknown> = {},
  ) => {
    const request = c.id();
    c.send([16, request, { acknowledge: true, ...options }, t, args]);
    return within(c.reply(request, [17, 8]), 2000, `PUBLISHED ${t}`);
  };
  const welcomeDetails = (c: RawWampClient) => c.frames[0];

  test('subscribing twice to one topic returns the same subscription ID', async () => {
    const c = await join();
    const t = topic();
    assert.equal(await c.subscribe(t), await c.subscribe(t));
  });

  test('two sessions on one topic share the subscription ID', async () => {
    const t = topic();
    assert.equal(
      await (await join()).subscribe(t),
      await (await join({ serialization: 'msgpack' })).subscribe(t),
    );
  });

  test('the same topic with match prefix is another subscription', async () => {
    const c = await join();
    const t = topic();
    const exact = await c.subscribe(t);
    const prefix = await c.subscribe(t, { match: 'prefix' });
    const wildcard = await c.subscribe(t, { match: 'wildcard' });
    assert.equal(new Set([exact, prefix, wildcard]).size, 3);
  });

  test('UNSUBSCRIBE of a subscription not held gets no_such_subscription', async () => {
    const a = await join();
    const b = await join();
    const sub = await a.subscribe(topic());
    for (const id of [sub, 12345]) {
      const request = b.id();
      b.send([34, request, id]);
      const reply = await within(b.reply(request, [35, 8]), 2000, 'ERROR');
      assert.deepEqual(reply.slice(0, 5), [8, 34, request, {}, 'wamp.error.no_such_subscription']);
    }
  });

  test('after UNSUBSCRIBED no EVENT of that subscription arrives', async () => {
    const sub = await join();
    const pub = await join();
    const t = topic();
    const id = await sub.subscribe(t);
    const request = sub.id();
    sub.send([34, request, id]);
    assert.deepEqual(await within(sub.reply(request, [35, 8]), 2000, 'UNSUBSCRIBED'), [35, request]);
    pub.send([16, pub.id(), {}, t, ['late']]);
    await settle(pub, sub);
    assert.equal(sub.messages.filter((m) => m[0] === 36 && m[1] === id).length, 0);
  });

  test('PUBLISH without acknowledge gets no reply, even when refused', async () => {
    const c = await join();
    const invalid = c.id();
    c.send([16, invalid, {}, 'com..invalid', ['x']]);
    const reserved = c.id();
    c.send([16, reserved, {}, 'wamp.session.on_join', ['x']]);
    const ok = c.id();
    c.send([16, ok, {}, topic()]);
    const published = await publish(c, topic(), []);
    assert.equal(published[0], 17);
    assert.deepEqual(c.messages, []);
  });

  test('the PUBLISHED publication ID is the one in the EVENTs', async () => {
    const sub = await join({ serialization: 'msgpack' });
    const pub = await join();
    const t = topic();
    const id = await sub.subscribe(t);
    const [published, ev] = await Promise.all([publish(pub, t, ['hello']), event(sub, id)]);
    assert.equal(published[0], 17);
    assert.equal(ev[2], published[2]);
    assert.deepEqual(ev.slice(3), [{}, ['hello']]);
  });

  test('the publisher gets its own event only with exclude_me false', async () => {
    const c = await join();
    const t = topic();
    const id = await c.subscribe(t);
    await publish(c, t, ['excluded']);
    await publish(c, t, ['included'], { exclude_me: false });
    const ev = await event(c, id);
    assert.deepEqual(ev[4], ['included']);
    assert.equal(c.messages.filter((m) => m[0] === 36).length, 0);
  });

  test('eligible and exclude select subscribers by session ID', async () => {
    const [pub, b, c, d] = await Promise.all([join(), join(), join(), join()]);
    const t = topic();
    const subs = await Promise.all([b, c, d].map((x) => x.subscribe(t)));
    await publish(pub, t, ['only b'], { eligible: [b.sessionId] });
    await publish(pub, t, ['all but b'], { exclude: [b.sessionId] });
    await publish(pub, t, ['only c'], { eligible: [b.sessionId, c.sessionId], exclude: [b.sessionId] });
    await settle(pub, b, c, d);
    const got = (x: RawWampClient, sub: number) =>
      x.messages.filter((m) => m[0] === 36 && m[1] === sub).map((m) => (m[4] as string[])[0]);
    assert.deepEqual(got(b, subs[0]!), ['only b']);
    assert.deepEqual(got(c, subs[1]!), ['all but b', 'only c']);
    assert.deepEqual(got(d, subs[2]!), ['all but b']);
  });

  test('eligible_authrole and exclude_authid select subscribers by authrole and authid', async () => {
    const pub = await join();
    const admin = server.track(await RawWampClient.open(server.url));
    admin.send([1, 'realm1', { roles: { subscriber: {} }, authmethods: ['ticket'], authid: 'root' }]);
    await within(admin.next(4), 2000, 'CHALLENGE');
    admin.send([5, 'root-ticket', {}]);
    assert.equal(
      ((await within(admin.next(2), 2000, 'WELCOME'))[2] as { authrole: string }).authrole,
      'admin',
    );
    const anon = await join();
    const anonAuthid = (JSON.parse(welcomeDetails(anon) as string) as [number, number, { authid: string }])[2]
      .authid;
    const t = topic();
    const [adminSub, anonSub] = await Promise.all([admin.subscribe(t), anon.subscribe(t)]);
    await publish(pub, t, ['admins'], { eligible_authrole: ['admin'] });
    await publish(pub, t, ['not anon'], { exclude_authid: [anonAuthid] });
    await publish(pub, t, ['not admins'], { exclude_authrole: 'admin' });
    await settle(pub, admin, anon);
    const got = (x: RawWampClient, sub: number) =>
      x.messages.filter((m) => m[0] === 36 && m[1] === sub).map((m) => (m[4] as string[])[0]);
    assert.deepEqual(got(admin, adminSub), ['admins', 'not anon']);
    assert.deepEqual(got(anon, anonSub), ['not admins']);
  });

  test('disclose_me puts the publisher in EVENT.Details; without it nothing is disclosed', async () => {
    const sub = await join();
    const pub = await join();
    const t = topic();
    const id = await sub.subscribe(t);
    await publish(pub, t, [1], { disclose_me: true });
    const disclosed = (await event(sub, id))[3] as Record<string, unknown>;
    assert.equal(disclosed.publisher, pub.sessionId);
    assert.equal(disclosed.publisher_authrole, 'anonymous');
    assert.equal(typeof disclosed.publisher_authid, 'string');
    await publish(pub, t, [2]);
    assert.deepEqual((await event(sub, id))[3], {});
  });

  test('a role permission with disclose.publisher discloses without disclose_me', async () => {
    const sub = await join({ realm: 'disclosing' });
    const pub = await join({ realm: 'disclosing' });
    const t = topic();
    const id = await sub.subscribe(t);
    await publish(pub, t, []);
    assert.equal(((await event(sub, id))[3] as { publisher: number }).publisher, pub.sessionId);
  });

  test('a prefix subscription receives com.a.b and com.ab with Details.topic', async () => {
    const sub = await join();
    const pub = await join();
    const base = topic('a');
    const id = await sub.subscribe(base, { match: 'prefix' });
    await publish(pub, `${base}.b`, []);
    assert.deepEqual((await event(sub, id))[3], { topic: `${base}.b` });
    await publish(pub, `${base}b`, []);
    assert.deepEqual((await event(sub, id))[3], { topic: `${base}b` });
  });

  test('a wildcard subscription com..c gets com.b.c, not com.b.c.d or com.c', async () => {
    const sub = await join();
    const pub = await join();
    const base = topic('w');
    const id = await sub.subscribe(`${base}..c`, { match: 'wildcard' });
    await publish(pub, `${base}.c`, ['short']);
    await publish(pub, `${base}.b.c.d`, ['long']);
    await publish(pub, `${base}.b.c`, ['match']);
    const ev = await event(sub, id);
    assert.deepEqual([ev[3], ev[4]], [{ topic: `${base}.b.c` }, ['match']]);
    await settle(pub, sub);
    assert.equal(sub.messages.filter((m) => m[0] === 36 && m[1] === id).length, 0);
  });

  test('exact and prefix subscriptions of one session both get the event, same publication ID', async () => {
    const sub = await join();
    const pub = await join();
    const t = topic();
    const exact = await sub.subscribe(t);
    const prefix = await sub.subscribe(t.slice(0, -2), { match: 'prefix' });
    const published = await publish(pub, t, []);
    const [a, b] = await Promise.all([event(sub, exact), event(sub, prefix)]);
    assert.equal(a[2], published[2]);
    assert.equal(b[2], published[2]);
  });

  test('maxRetainedTopics: past the limit, the topic retained longest ago is forgotten', async () => {
    const pub = await join({ realm: 'forgetful' });
    const [t1, t2, t3] = [topic('r1'), topic('r2'), topic('r3')];
    await publish(pub, t1, ['one'], { retain: true });
    await publish(pub, t2, ['two'], { retain: true });
    await publish(pub, t1, ['one again'], { retain: true }); // t1 is the newest now
    await publish(pub, t3, ['three'], { retain: true }); // over the limit: t2 goes
    const sub = await join({ realm: 'forgetful' });
    const retained = async (t: string) => {
      const request = sub.id();
      sub.send([32, request, { get_retained: true }, t]);
      const subscribed = await within(sub.reply(request, [33]), 2000, `SUBSCRIBED ${t}`);
      await settle(pub, sub);
      return sub.messages.filter((m) => m[0] === 36 && m[1] === subscribed[2]).map((m) => m[4]);
    };
    assert.deepEqual(await retained(t1), [['one again']]);
    assert.deepEqual(await retained(t2), []);
    assert.deepEqual(await retained(t3), [['three']]);
  });

  test('a retained event is sent after SUBSCRIBED with Details.retained', async () => {
    const pub = await join();
    const t = topic();
    await publish(pub, t, ['old'], { retain: true });
    const published = await publish(pub, t, ['kept'], { retain: true });
    await publish(pub, t, ['not kept']);
    const sub = await join();
    const request = sub.id();
    sub.send([32, request, { get_retained: true }, t]);
    const subscribed = await within(sub.next(), 2000, 'SUBSCRIBED');
    assert.deepEqual(subscribed.slice(0, 2), [33, request]);
    const ev = await within(sub.next(), 2000, 'retained EVENT');
    assert.deepEqual(ev, [36, subscribed[2], published[2], { retained: true }, ['kept']]);
    const prefixed = sub.id();
    sub.send([32, prefixed, { get_retained: true, match: 'prefix' }, t.slice(0, -3)]);
    const prefixSub = await within(sub.reply(prefixed, [33]), 2000, 'SUBSCRIBED');
    assert.deepEqual((await event(sub, prefixSub[2] as number))[3], { topic: t, retained: true });
    const plain = await join();
    const plainRequest = plain.id();
    plain.send([32, plainRequest, {}, t]);
    await within(plain.reply(plainRequest, [33]), 2000, 'SUBSCRIBED');
    await settle(pub, plain);
    assert.equal(plain.messages.filter((m) => m[0] === 36).length, 0);
  });

  test('publishing to wamp.* is refused with invalid_uri', async () => {
    const c = await join();
    const reply = await publish(c, 'wamp.session.on_join', [{}]);
    assert.deepEqual(reply.slice(0, 5), [8, 16, reply[2], {}, 'wamp.error.invalid_uri']);
  });

  test('invalid topics, unknown match policies and bad option types are refused', async () => {
    const c = await join();
    const cases: [WampMessage, string][] = [
      [[32, 0, {}, 'com..x'], 'wamp.error.invalid_uri'],
      [[32, 0, { match: 'prefix' }, 'com..x'], 'wamp.error.invalid_uri'],
      [[32, 0, { match: 'fuzzy' }, 'com.x'], 'wamp.error.invalid_argument'],
      [[16, 0, { acknowledge: true, exclude: ['x'] }, 'com.x'], 'wamp.error.invalid_argument'],
      [[16, 0, { acknowledge: true, exclude_me: 'no' }, 'com.x'], 'wamp.error.invalid_argument'],
    ];
    for (const [message, uri] of cases) {
      const request = c.id();
      message[1] = request;
      c.send(message);
      const reply = await within(c.reply(request, [8, 17, 33]), 2000, uri);
      assert.deepEqual([reply[0], reply[1], reply[4]], [8, message[0], uri]);
    }
  });

  test('a strict realm refuses mixed-case URIs, loose accepts them', async () => {
    const strict = await join({ realm: 'strict' });
    const request = strict.id();
    strict.send([32, request, {}, 'com.myApp.x']);
    assert.equal((await within(strict.reply(request, [8, 33]), 2000, 'ERROR'))[4], 'wamp.error.invalid_uri');
    assert.ok((await (await join()).subscribe('com.myApp.my-topic')) > 0);
  });

  test('events from one publisher arrive in publish order, across topics', async () => {
    const sub = await join({ serialization: 'msgpack' });
    const pub = await join();
    const [t1, t2] = [topic(), topic()];
    const ids = [await sub.subscribe(t1), await sub.subscribe(t2)];
    for (let i = 0; i < 50; i++) pub.send([16, pub.id(), {}, i % 2 ? t2 : t1, [i]]);
    const seen: number[] = [];
    for (let i = 0; i < 50; i++) {
      const ev = await within(sub.next(36), 2000, `event ${i}`);
      assert.equal(ev[1], ids[i % 2]);
      seen.push((ev[4] as number[])[0]!);
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 50 }, (_, i) => i),
    );
  });

  test('JSON payloads reach JSON subscribers byte for byte', async () => {
    const sub = await join();
    const pub = await join();
    const t = topic();
    const id = await sub.subscribe(t);
    pub.send(`[16, 1, {}, "${t}", [1.0, 1e3, "\\u00e9", 12345678901234567890], {"k" : null}]`);
    await event(sub, id);
    const frame = sub.frames.find((f) => typeof f === 'string' && f.startsWith(`[36,${id},`)) as string;
    assert.ok(frame.endsWith(',{},[1.0, 1e3, "\\u00e9", 12345678901234567890],{"k" : null}]'), frame);
  });

  test('JSON "\\u0000AQI=" reaches a msgpack subscriber as bin 0102, and back', async () => {
    const json = await join();
    const msgpack = await join({ serialization: 'msgpack' });
    const t = topic();
    const [jsonSub, msgpackSub] = [await json.subscribe(t), await msgpack.subscribe(t)];
    await publish(json, t, ['\u0000AQI=', 'text']);
    const [bytes, text] = (await event(msgpack, msgpackSub))[4] as [Uint8Array, string];
    assert.deepEqual([[...bytes], text], [[1, 2], 'text']);
    const frame = msgpack.frames.at(-1) as Buffer;
    assert.ok(frame.includes(Buffer.from('92c4020102a474657874', 'hex')));

    await publish(msgpack, t, [new Uint8Array([1, 2])]);
    const back = await event(json, jsonSub);
    assert.deepEqual(back[4], ['\u0000AQI=']);
  });

  test('a wampy msgpack SUBSCRIBE with undefined options is accepted as {}', async () => {
    const c = await join({ serialization: 'msgpack' });
    // [32, 1000, {match: undefined, get_retained: undefined}, "com.wampy.t"], undefined as msgpackr's fixext 1 type 0.
    const bytes = Buffer.from(
      `9420cd03e882a56d61746368d40000ac6765745f72657461696e6564d40000ab${Buffer.from('com.wampy.t').toString('hex')}`,
      'hex',
    );
    c.send(bytes);
    const reply = await within(c.reply(1000, [33, 8]), 2000, 'SUBSCRIBED');
    assert.equal(reply[0], 33);
    const pub = await join();
    await publish(pub, 'com.wampy.t', ['x']);
    assert.deepEqual((await event(c, reply[2] as number))[4], ['x']);
  });
});
