import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encode } from '@msgpack/msgpack';
import { within } from '../helpers/raw-client.js';
import { RawWampClient, type WampMessage } from '../helpers/wamp-client.js';
import { wampServer } from '../helpers/wamp-server.js';

/** `depth` levels of lists around `1`, counted as the MessagePack encoder counts (the scalar is a level). */
const nested = (depth: number): unknown => JSON.parse(`${'['.repeat(depth - 1)}1${']'.repeat(depth - 1)}`);

const GUARD_MS = 5000;

/** The ERROR of `reply`, as `[type, requestType, request, uri]`, or the message itself when not an ERROR. */
const errorOf = (reply: WampMessage) => (reply[0] === 8 ? [8, reply[1], reply[4]] : reply);

describe('WAMP payload depth: what every serializer can carry, or a refusal', () => {
  const server = wampServer();

  test('PUBLISH nested 101 deep is refused with invalid_argument; 100 deep reaches a MessagePack subscriber', async () => {
    const subscriber = await server.join({ serialization: 'msgpack' });
    const subscription = await subscriber.subscribe('com.deep.topic');
    const publisher = await server.join();
    const request = publisher.id();
    // As text: the JSON a client sends, args nested 101 deep.
    publisher.send(`[16,${request},{"acknowledge":true},"com.deep.topic",${JSON.stringify([nested(100)])}]`);
    const refused = await within(publisher.reply(request, [17, 8]), GUARD_MS, 'the refusal');
    assert.deepEqual(errorOf(refused), [8, 16, 'wamp.error.invalid_argument']);
    // Unacknowledged, and in ArgumentsKw: nothing is answered, nothing delivered, nobody dropped.
    publisher.send([16, publisher.id(), {}, 'com.deep.topic', [nested(101)]]);
    publisher.send([16, publisher.id(), {}, 'com.deep.topic', [], { k: nested(100) }]);
    publisher.send([16, publisher.id(), {}, 'com.deep.topic', [nested(99)]]);
    const event = await within(
      subscriber.next((m) => m[0] === 36 && m[1] === subscription),
      GUARD_MS,
      'the EVENT',
    );
    assert.deepEqual(event[4], [nested(99)], 'the deepest payload accepted arrives intact');
    assert.equal(subscriber.messages.filter((m) => m[0] === 36).length, 0, 'nothing else was delivered');
  });

  test('CALL, YIELD and a callee ERROR nested too deep end the call with invalid_argument', async () => {
    const callee = await server.join();
    await callee.register('com.deep.proc');
    const deepCaller = await server.join();
    assert.deepEqual(errorOf(await deepCaller.call('com.deep.proc', [nested(100)])), [
      8,
      48,
      'wamp.error.invalid_argument',
    ]);
    // A MessagePack caller: the callee's answers below could not be encoded for it.
    const caller = await server.join({ serialization: 'msgpack' });

    const answered = caller.call('com.deep.proc', ['yield']);
    const invocation = await within(callee.next(68), GUARD_MS, 'INVOCATION');
    callee.send([70, invocation[1], {}, [nested(100)]]);
    const reply = await within(answered, GUARD_MS, 'the answer to the caller');
    assert.deepEqual(errorOf(reply), [8, 48, 'wamp.error.invalid_argument']);

    const failed = caller.call('com.deep.proc', ['error']);
    const second = await within(callee.next(68), GUARD_MS, 'INVOCATION');
    callee.send([8, 68, second[1], {}, 'com.app.failed', [], { deep: nested(100) }]);
    assert.deepEqual(errorOf(await within(failed, GUARD_MS, 'the error')), [
      8,
      48,
      'wamp.error.invalid_argument',
    ]);

    const fine = caller.call('com.deep.proc', ['fine']);
    const third = await within(callee.next(68), GUARD_MS, 'INVOCATION');
    callee.send([70, third[1], {}, [nested(99)]]);
    assert.deepEqual((await within(fine, GUARD_MS, 'RESULT'))[3], [nested(99)]);
  });

  test('a testament too deep is refused at add_testament; the deepest accepted one is published through abort()', async () => {
    const subscriber = await server.join({ serialization: 'msgpack' });
    const subscription = await subscriber.subscribe('com.deep.testament');
    const leaving = await server.join();
    // The testament's args are the CALL's second argument: 101 deep inside a CALL 102 deep.
    const refused = await leaving.call('wamp.session.add_testament', ['com.deep.testament', [nested(100)]]);
    assert.deepEqual(errorOf(refused), [8, 48, 'wamp.error.invalid_argument']);
    const accepted = await leaving.call('wamp.session.add_testament', ['com.deep.testament', [nested(98)]]);
    assert.equal(accepted[0], 50);
    leaving.send([99]); // a protocol violation: the router aborts the session and publishes its testament
    const abort = await within(leaving.next(3), GUARD_MS, 'ABORT');
    assert.equal(abort[2], 'wamp.error.protocol_violation');
    const event = await within(
      subscriber.next((m) => m[0] === 36 && m[1] === subscription),
      GUARD_MS,
      'the testament',
    );
    assert.deepEqual(event[4], [nested(98)]);
  });

  test('closing the socket of a session whose testament was refused leaves every other session served', async () => {
    const subscriber = await server.join({ serialization: 'msgpack' });
    const subscription = await subscriber.subscribe('com.deep.closed');
    const leaving = await server.join();
    const refused = await leaving.call('wamp.session.add_testament', ['com.deep.closed', [nested(100)]]);
    assert.deepEqual(errorOf(refused), [8, 48, 'wamp.error.invalid_argument']);
    leaving.ws.terminate();
    await leaving.closed;
    const publisher = await server.join();
    publisher.send([16, publisher.id(), {}, 'com.deep.closed', ['after']]);
    const event = await within(
      subscriber.next((m) => m[0] === 36 && m[1] === subscription),
      GUARD_MS,
      'the publication after the close',
    );
    assert.deepEqual(event[4], ['after']);
  });
});

describe('WAMP elements nested deep outside the payload', () => {
  const server = wampServer();
  /** A MessagePack message: `items`, then `extra` bytes as one more element. */
  const withElement = (items: unknown[], extra: Buffer) => {
    const head = Buffer.from(encode(items));
    head[0] = 0x90 | (items.length + 1);
    return Buffer.concat([head, extra]);
  };
  /** A MessagePack map `{"a": …}` nested `depth` deep around 1. */
  const deepMap = (depth: number) =>
    Buffer.concat([...Array<Buffer>(depth).fill(Buffer.from([0x81, 0xa1, 0x61])), Buffer.from([0x01])]);

  test('MessagePack: an option nested 5,000 deep is read like any unknown option, an extra element is a plain violation', async () => {
    const client = await server.join({ serialization: 'msgpack' });
    const request = client.id();
    // SUBSCRIBE.Options as the fourth element would be the topic: put the deep map inside Options instead.
    const options = Buffer.concat([Buffer.from([0x81, 0xa5]), Buffer.from('deepx'), deepMap(5000)]);
    const head = Buffer.from(encode([32, request]));
    head[0] = 0x94;
    client.send(Buffer.concat([head, options, Buffer.from(encode('com.deep.options'))]));
    const reply = await within(client.reply(request, [33, 8]), GUARD_MS, 'SUBSCRIBED');
    assert.equal(reply[0], 33, 'the unknown option is ignored');

    client.send(withElement([1, 'realm1', { roles: { caller: {} } }], deepMap(5000)));
    const abort = await within(client.next(3), GUARD_MS, 'ABORT');
    assert.deepEqual(abort, [
      3,
      { message: 'message type 1 with 4 elements' },
      'wamp.error.protocol_violation',
    ]);
  });
});

describe('WAMP call timeouts past what a timer can hold', () => {
  const server = wampServer();

  test('timeout: 2^32 does not fire early: the call still gets its result after a 30 ms timeout elsewhere fired', async () => {
    const callee = await server.join();
    await callee.register('com.slow.answer');
    await callee.register('com.slow.never');
    const caller = await server.join();
    const answered = caller.call('com.slow.answer', [], { timeout: 2 ** 32 });
    const invocation = await within(callee.next(68), GUARD_MS, 'INVOCATION');
    // A call whose 30 ms timeout must fire: proof that time passed, without a fixed sleep here.
    const timedOut = await within(caller.call('com.slow.never', [], { timeout: 30 }), GUARD_MS, 'timeout');
    assert.deepEqual(errorOf(timedOut), [8, 48, 'wamp.error.timeout']);
    callee.send([70, invocation[1], {}, ['late but fine']]);
    const result = await within(answered, GUARD_MS, 'the result');
    assert.deepEqual([result[0], result[3]], [50, ['late but fine']]);
  });
});

describe('WAMP privileged meta API: kills and peer addresses need a rule that names wamp.', () => {
  const everything = { call: true, register: true, publish: true, subscribe: true };
  const server = wampServer({
    wamp: {
      realms: [
        { name: 'realm1' },
        {
          name: 'trusted',
          roles: [
            { name: 'anonymous', permissions: [{ uri: '*', allow: everything }] },
            {
              name: 'admin',
              permissions: [
                { uri: '*', allow: everything },
                { uri: 'wamp.session.*', allow: { call: true, subscribe: true } },
              ],
            },
          ],
        },
      ],
      auth: {
        anonymous: { role: 'anonymous' },
        ticket: { principals: { ops: { ticket: 's3cret', role: 'admin' } } },
      },
    },
  });
  const admin = async () => {
    const c = server.track(await RawWampClient.open(server.url));
    c.send([1, 'trusted', { roles: { caller: {}, subscriber: {} }, authmethods: ['ticket'], authid: 'ops' }]);
    await within(c.next(4), GUARD_MS, 'CHALLENGE');
    c.send([5, 's3cret', {}]);
    c.sessionId = (await within(c.next(2), GUARD_MS, 'WELCOME'))[1] as number;
    return c;
  };
  const transportOf = (details: unknown) => (details as { transport: Record<string, unknown> }).transport;

  test('on the open default realm anonymous may not kill anyone nor see peer addresses', async () => {
    const watcher = await server.join();
    const joins = await watcher.subscribe('wamp.session.on_join');
    const victim = await server.join();
    const joined = await within(
      watcher.next((m) => m[0] === 36 && m[1] === joins),
      GUARD_MS,
      'on_join',
    );
    const announced = (joined[4] as unknown[])[0] as { session: number };
    assert.equal(announced.session, victim.sessionId);
    assert.deepEqual(transportOf(announced), { type: 'websocket', protocol: 'wamp.2.json' }, 'no peer');
    const got = await watcher.call('wamp.session.get', [victim.sessionId]);
    assert.deepEqual(transportOf((got[3] as unknown[])[0]), { type: 'websocket', protocol: 'wamp.2.json' });

    for (const [procedure, args] of [
      ['wamp.session.kill', [victim.sessionId]],
      ['wamp.session.kill_by_authid', [(got[3] as [{ authid: string }])[0].authid]],
      ['wamp.session.kill_by_authrole', ['anonymous']],
      ['wamp.session.kill_all', []],
    ] as const) {
      const reply = await within(watcher.call(procedure, [...args]), GUARD_MS, procedure);
      assert.deepEqual(errorOf(reply), [8, 48, 'wamp.error.not_authorized'], procedure);
    }
    // Nobody was disconnected: the victim is still served.
    assert.equal((await within(victim.call('wamp.session.count'), GUARD_MS, 'count'))[0], 50);
    assert.equal(victim.messages.filter((m) => m[0] === 6).length, 0, 'no GOODBYE');
  });

  test('a role whose rule names wamp.session.* sees peer addresses and may kill; others on its realm may not', async () => {
    const ops = await admin();
    const anonymous = await server.join({ realm: 'trusted' });
    const [opsJoins, anonymousJoins] = [
      await ops.subscribe('wamp.session.on_join'),
      await anonymous.subscribe('wamp.session.on_join'),
    ];
    const victim = await server.join({ realm: 'trusted', serialization: 'msgpack' });
    const seenBy = async (c: RawWampClient, subscription: number) =>
      (
        (
          await within(
            c.next((m) => m[0] === 36 && m[1] === subscription),
            GUARD_MS,
            'on_join',
          )
        )[4] as unknown[]
      )[0];
    assert.equal(transportOf(await seenBy(ops, opsJoins)).peer, '127.0.0.1');
    assert.equal('peer' in transportOf(await seenBy(anonymous, anonymousJoins)), false);
    const got = await ops.call('wamp.session.get', [victim.sessionId]);
    assert.equal(transportOf((got[3] as unknown[])[0]).peer, '127.0.0.1');

    const refused = await anonymous.call('wamp.session.kill_all');
    assert.deepEqual(errorOf(refused), [8, 48, 'wamp.error.not_authorized']);
    const killed = await ops.call('wamp.session.kill_all');
    assert.deepEqual([killed[0], killed[3]], [50, [2]]);
    assert.equal((await within(victim.next(6), GUARD_MS, 'GOODBYE'))[2], 'wamp.close.killed');
    assert.equal((await within(anonymous.next(6), GUARD_MS, 'GOODBYE'))[2], 'wamp.close.killed');
  });
});
