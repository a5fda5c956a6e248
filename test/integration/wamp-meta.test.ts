import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { within } from '../helpers/raw-client.js';
import { RawWampClient, type WampMessage } from '../helpers/wamp-client.js';
import { wampServer } from '../helpers/wamp-server.js';

describe('WAMP meta API and testaments', () => {
  /** Everything, and the privileged meta API through a rule that names `wamp.session.` (docs/wamp.md). */
  const trusted = [
    {
      name: 'anonymous',
      permissions: [
        {
          uri: '',
          match: 'prefix' as const,
          allow: { call: true, register: true, publish: true, subscribe: true },
        },
        { uri: 'wamp.session.', match: 'prefix' as const, allow: { call: true, subscribe: true } },
      ],
    },
  ];
  const server = wampServer({
    wamp: {
      realms: [{ name: 'realm1', roles: trusted }, { name: 'counted' }, { name: 'kills', roles: trusted }],
      auth: {
        anonymous: { role: 'anonymous' },
        ticket: { principals: { ops: { ticket: 't', role: 'anonymous' } } },
      },
    },
  });
  const join = (options?: Parameters<typeof server.join>[0]) => server.join(options);
  /** CALL a meta procedure; resolves with args[0] of the RESULT, or throws the ERROR URI. */
  const meta = async (
    c: RawWampClient,
    procedure: string,
    args: unknown[] = [],
    kwargs?: Record<string, unknown>,
  ) => {
    const request = c.id();
    c.send(kwargs ? [48, request, {}, procedure, args, kwargs] : [48, request, {}, procedure, args]);
    const reply = await within(c.reply(request, [50, 8]), 2000, procedure);
    if (reply[0] === 8) throw new Error(reply[4] as string);
    return (reply[3] as unknown[] | undefined)?.[0];
  };
  const event = (c: RawWampClient, subscription: number) =>
    within(
      c.next((m) => m[0] === 36 && m[1] === subscription),
      2000,
      `EVENT on ${subscription}`,
    );

  test('wamp.session.count and .list cover the realm’s joined sessions', async () => {
    const a = await join({ realm: 'counted' });
    const b = await join({ realm: 'counted', serialization: 'msgpack' });
    await join();
    assert.equal(await meta(a, 'wamp.session.count'), 2);
    assert.deepEqual(
      ((await meta(b, 'wamp.session.list')) as number[]).sort(),
      [a.sessionId, b.sessionId].sort(),
    );
    assert.equal(await meta(a, 'wamp.session.count', [['anonymous']]), 2);
    assert.deepEqual(await meta(a, 'wamp.session.list', [['admin']]), []);
  });

  test('wamp.session.get: details of a session, no_such_session for an unknown ID', async () => {
    const a = await join();
    const b = await join({ serialization: 'msgpack' });
    const details = (await meta(a, 'wamp.session.get', [b.sessionId])) as Record<string, unknown>;
    assert.equal(details.session, b.sessionId);
    assert.equal(details.authrole, 'anonymous');
    assert.equal(details.authmethod, 'anonymous');
    assert.equal(details.serializer, 'msgpack');
    await assert.rejects(meta(a, 'wamp.session.get', [1]), /wamp.error.no_such_session/);
    await assert.rejects(meta(a, 'wamp.session.get', ['x']), /wamp.error.invalid_argument/);
  });

  test('on_join carries the new session’s details, on_leave its ID first', async () => {
    const watcher = await join();
    const joins = await watcher.subscribe('wamp.session.on_join');
    const leaves = await watcher.subscribe('wamp.session.on_leave');
    const c = await join({ serialization: 'msgpack' });
    const joined = await event(watcher, joins);
    const details = (joined[4] as Record<string, unknown>[])[0]!;
    assert.equal(details.session, c.sessionId);
    assert.equal(details.authrole, 'anonymous');
    assert.equal(typeof details.authid, 'string');
    c.close();
    const left = await event(watcher, leaves);
    assert.deepEqual(left[4], [c.sessionId, details.authid, 'anonymous']);
  });

  test('subscription on_create → on_subscribe; on_unsubscribe → on_delete', async () => {
    const watcher = await join();
    const names = ['on_create', 'on_subscribe', 'on_unsubscribe', 'on_delete'];
    const subs = new Map<number, string>();
    for (const n of names) subs.set(await watcher.subscribe(`wamp.subscription.${n}`), n);
    const c = await join();
    const id = await c.subscribe('com.meta.topic');
    const request = c.id();
    c.send([34, request, id]);
    await within(c.reply(request, [35]), 2000, 'UNSUBSCRIBED');
    const seen: [string, unknown[]][] = [];
    for (let i = 0; i < 4; i++) {
      const ev = await within(watcher.next(36), 2000, 'meta event');
      seen.push([subs.get(ev[1] as number)!, ev[4] as unknown[]]);
    }
    assert.deepEqual(
      seen.map(([n]) => n),
      names,
    );
    const created = seen[0]![1][1] as Record<string, unknown>;
    assert.deepEqual(
      [seen[0]![1][0], created.id, created.uri, created.match],
      [c.sessionId, id, 'com.meta.topic', 'exact'],
    );
    assert.match(created.created as string, /^\d{4}-\d\d-\d\dT/);
    for (const [, args] of seen.slice(1)) assert.deepEqual(args, [c.sessionId, id]);
  });

  test('registration meta events, also on session end', async () => {
    const watcher = await join();
    const names = ['on_create', 'on_register', 'on_unregister', 'on_delete'];
    const subs = new Map<number, string>();
    for (const n of names) subs.set(await watcher.subscribe(`wamp.registration.${n}`), n);
    const c = await join();
    const id = await c.register('com.meta.proc', { invoke: 'roundrobin' });
    c.close();
    const seen: WampMessage[] = [];
    for (let i = 0; i < 4; i++) seen.push(await within(watcher.next(36), 2000, 'meta event'));
    assert.deepEqual(
      seen.map((e) => subs.get(e[1] as number)),
      names,
    );
    assert.deepEqual((seen[0]![4] as unknown[])[1], {
      ...((seen[0]![4] as unknown[])[1] as object),
      id,
      uri: 'com.meta.proc',
      match: 'exact',
      invoke: 'roundrobin',
    });
  });

  test('subscription lookup, match, list, get and subscriber counts', async () => {
    const [a, b] = [await join(), await join()];
    const exact = await a.subscribe('com.look.t');
    await b.subscribe('com.look.t');
    const prefix = await a.subscribe('com.look.', { match: 'prefix' });
    assert.equal(await meta(a, 'wamp.subscription.lookup', ['com.look.t']), exact);
    assert.equal(await meta(a, 'wamp.subscription.lookup', ['com.look.', { match: 'prefix' }]), prefix);
    assert.equal(await meta(a, 'wamp.subscription.lookup', ['com.look.none']), null);
    assert.deepEqual(await meta(a, 'wamp.subscription.match', ['com.look.t']), [exact, prefix]);
    assert.equal(await meta(a, 'wamp.subscription.match', ['org.none']), null);
    const list = (await meta(a, 'wamp.subscription.list')) as Record<string, number[]>;
    assert.ok(list.exact!.includes(exact) && list.prefix!.includes(prefix) && Array.isArray(list.wildcard));
    assert.deepEqual(await meta(a, 'wamp.subscription.get', [prefix]), {
      ...((await meta(a, 'wamp.subscription.get', [prefix])) as object),
      id: prefix,
      uri: 'com.look.',
      match: 'prefix',
    });
    assert.deepEqual(
      ((await meta(a, 'wamp.subscription.list_subscribers', [exact])) as number[]).sort(),
      [a.sessionId, b.sessionId].sort(),
    );
    assert.equal(await meta(a, 'wamp.subscription.count_subscribers', [exact]), 2);
    await assert.rejects(meta(a, 'wamp.subscription.get', [1]), /no_such_subscription/);
  });

  test('registration lookup, match, get and callees', async () => {
    const [a, b] = [await join(), await join()];
    const shared = await a.register('com.reg.p', { invoke: 'first' });
    await b.register('com.reg.p', { invoke: 'first' });
    const prefix = await a.register('com.reg.', { match: 'prefix' });
    assert.equal(await meta(a, 'wamp.registration.lookup', ['com.reg.p']), shared);
    assert.equal(await meta(a, 'wamp.registration.lookup', ['com.reg.', { match: 'prefix' }]), prefix);
    assert.equal(await meta(a, 'wamp.registration.match', ['com.reg.p']), shared);
    assert.equal(await meta(a, 'wamp.registration.match', ['com.reg.q']), prefix);
    assert.equal(await meta(a, 'wamp.registration.match', ['org.x']), null);
    assert.deepEqual(await meta(a, 'wamp.registration.list_callees', [shared]), [a.sessionId, b.sessionId]);
    assert.equal(await meta(a, 'wamp.registration.count_callees', [shared]), 2);
    assert.equal(((await meta(a, 'wamp.registration.get', [shared])) as { invoke: string }).invoke, 'first');
    assert.ok(((await meta(a, 'wamp.registration.list')) as { prefix: number[] }).prefix.includes(prefix));
    await assert.rejects(meta(a, 'wamp.registration.get', [1]), /no_such_registration/);
  });

  test('wamp.session.kill sends GOODBYE wamp.close.killed; killing oneself is no_such_session', async () => {
    const [killer, victim] = [await join(), await join()];
    const leaves = await killer.subscribe('wamp.session.on_leave');
    await meta(killer, 'wamp.session.kill', [victim.sessionId], { message: 'bye now' });
    assert.deepEqual(await within(victim.next(6), 2000, 'GOODBYE'), [
      6,
      { message: 'bye now' },
      'wamp.close.killed',
    ]);
    assert.equal(((await event(killer, leaves))[4] as number[])[0], victim.sessionId);
    victim.send([6, {}, 'wamp.close.goodbye_and_out']);
    assert.equal((await victim.hello('realm1'))[0], 2, 'the transport carries a new session');
    await assert.rejects(meta(killer, 'wamp.session.kill', [killer.sessionId]), /no_such_session/);
    await assert.rejects(
      meta(killer, 'wamp.session.kill', [victim.sessionId], { reason: 'not a uri' }),
      /invalid_uri/,
    );
  });

  test('kill_by_authid, kill_by_authrole and kill_all spare the caller', async () => {
    const ticketed = async () => {
      const c = server.track(await RawWampClient.open(server.url));
      c.send([1, 'kills', { roles: { caller: {} }, authmethods: ['ticket'], authid: 'ops' }]);
      await within(c.next(4), 2000, 'CHALLENGE');
      c.send([5, 't', {}]);
      c.sessionId = (await within(c.next(2), 2000, 'WELCOME'))[1] as number;
      return c;
    };
    const [caller, ops1, ops2] = [await ticketed(), await ticketed(), await ticketed()];
    const killed = (await meta(caller, 'wamp.session.kill_by_authid', ['ops'], {
      reason: 'com.app.maintenance',
    })) as number[];
    assert.deepEqual(killed.sort(), [ops1.sessionId, ops2.sessionId].sort());
    assert.equal((await within(ops1.next(6), 2000, 'GOODBYE'))[2], 'com.app.maintenance');
    const other = await join({ realm: 'kills' });
    assert.equal(await meta(caller, 'wamp.session.kill_by_authrole', ['anonymous']), 1);
    assert.equal((await within(other.next(6), 2000, 'GOODBYE'))[2], 'wamp.close.killed');
    const last = await join({ realm: 'kills' });
    assert.equal(await meta(caller, 'wamp.session.kill_all'), 1);
    await within(last.next(6), 2000, 'GOODBYE');
    assert.equal(await meta(caller, 'wamp.session.count'), 1);
  });

  test('testaments are published when the transport drops, detached before destroyed', async () => {
    const watcher = await join();
    const sub = await watcher.subscribe('com.testament.t');
    const c = await join({ serialization: 'msgpack' });
    await meta(c, 'wamp.session.add_testament', ['com.testament.t', ['gone'], {}]);
    await meta(c, 'wamp.session.add_testament', ['com.testament.t', ['detached'], { k: 1 }], {
      scope: 'detached',
    });
    await meta(c, 'wamp.session.add_testament', ['com.testament.t', ['disclosed']], {
      publish_options: { disclose_me: true },
    });
    c.ws.terminate();
    const events = [await event(watcher, sub), await event(watcher, sub), await event(watcher, sub)];
    assert.deepEqual(
      events.map((e) => e[4]),
      [['detached'], ['gone'], ['disclosed']],
    );
    assert.deepEqual(events[0]![5], { k: 1 });
    assert.equal((events[2]![3] as { publisher: number }).publisher, c.sessionId);
  });

  test('flushed testaments are not published; GOODBYE publishes the rest; a bad scope is refused', async () => {
    const watcher = await join();
    const sub = await watcher.subscribe('com.testament.flush');
    const c = await join();
    await meta(c, 'wamp.session.add_testament', ['com.testament.flush', ['flushed']]);
    await meta(c, 'wamp.session.flush_testaments');
    await meta(c, 'wamp.session.add_testament', ['com.testament.flush', ['kept']], { scope: 'detached' });
    await assert.rejects(
      meta(c, 'wamp.session.add_testament', ['com.testament.flush', []], { scope: 'x' }),
      /testament_error/,
    );
    await assert.rejects(meta(c, 'wamp.session.add_testament', ['wamp.session.on_join', []]), /invalid_uri/);
    c.send([6, {}, 'wamp.close.normal']);
    assert.deepEqual((await event(watcher, sub))[4], ['kept']);
  });
});
