import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sign as cryptosignSign } from 'wampy/cryptosign.js';
import { sign as wampcraSign } from 'wampy/wampcra.js';
import { autobahn, closeAutobahn, openAutobahn } from '../helpers/autobahn.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { RawWampClient } from '../helpers/wamp-client.js';
import { newWampy, type WampyOptions } from '../helpers/wampy.js';

const SEED = '4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510';
const PUBKEY = '1adfc8bfe1d35616e64dffbd900096f23b066f914c8c2ffbb66f6075b96e116d';
const ALL = { call: true, register: true, publish: true, subscribe: true };
const NONE = { call: false, register: false, publish: false, subscribe: false };

describe('WAMP authentication and authorization', () => {
  let h: TestHerald;
  let url: string;
  const clients: RawWampClient[] = [];
  const open = async () => {
    const c = await RawWampClient.open(url);
    clients.push(c);
    return c;
  };
  /** HELLO with auth details; resolves with the CHALLENGE (or whatever came instead). */
  const hello = async (c: RawWampClient, details: Record<string, unknown>, realm = 'realm1') => {
    c.send([1, realm, { roles: { caller: {}, callee: {}, publisher: {}, subscriber: {} }, ...details }]);
    return within(c.next(), 2000, 'reply to HELLO');
  };
  const authenticate = async (c: RawWampClient, signature: string) => {
    c.send([5, signature, {}]);
    const reply = await within(c.next(), 2000, 'reply to AUTHENTICATE');
    if (reply[0] === 2) c.sessionId = reply[1] as number;
    return reply;
  };
  const ticketSession = async (authid: string, ticket: string) => {
    const c = await open();
    assert.deepEqual(await hello(c, { authmethods: ['ticket'], authid }), [4, 'ticket', {}]);
    return [c, await authenticate(c, ticket)] as const;
  };

  before(async () => {
    h = await startHerald({
      wamp: {
        realms: [
          {
            name: 'realm1',
            roles: [
              {
                name: 'user',
                permissions: [
                  { uri: 'com.app.', match: 'prefix', allow: { ...NONE, call: true, subscribe: true } },
                  { uri: 'com.app.user.*', allow: ALL },
                  { uri: 'com.app.secret', allow: NONE },
                  { uri: 'wamp.session.count', allow: { ...NONE, call: true } },
                ],
              },
              { name: 'backend', permissions: [{ uri: '*', allow: ALL }] },
            ],
          },
          {
            name: 'backoffice',
            roles: [{ name: 'backend', permissions: [{ uri: '', match: 'prefix', allow: ALL }] }],
          },
        ],
        auth: {
          ticket: { principals: { joe: { ticket: 'joe-ticket', role: 'user' } } },
          wampcra: {
            users: {
              alice: { secret: 'alice-secret', role: 'backend' },
              bob: { secret: 'bob-password', role: 'user', salt: 'salt1', iterations: 100, keylen: 32 },
            },
          },
          cryptosign: { principals: { carol: { authorized_keys: [PUBKEY], role: 'backend' } } },
        },
      },
    });
    url = `ws://127.0.0.1:${h.port}/ws`;
  });
  after(async () => {
    for (const c of clients) c.close();
    await h.stop();
  });

  test('without anonymous in wamp.auth, HELLO without credentials gets ABORT no_matching_auth_method', async () => {
    const c = await open();
    const reply = await hello(c, {});
    assert.deepEqual([reply[0], reply[2]], [3, 'wamp.error.no_matching_auth_method']);
    await within(c.closed, 2000, 'close');
  });

  test('ticket: a wrong ticket gets ABORT, the right one WELCOME with the configured role', async () => {
    const [bad, refused] = await ticketSession('joe', 'guess');
    assert.deepEqual([refused[0], refused[2]], [3, 'wamp.error.authentication_failed']);
    await within(bad.closed, 2000, 'close');
    const [, unknown] = await ticketSession('nobody', 'joe-ticket');
    assert.equal(unknown[0], 3);
    const [, welcome] = await ticketSession('joe', 'joe-ticket');
    const details = welcome[2] as Record<string, unknown>;
    assert.deepEqual(
      [details.authid, details.authrole, details.authmethod, details.authprovider],
      ['joe', 'user', 'ticket', 'static'],
    );
  });

  test('ticket with autobahn-js', async () => {
    const { connection, session, details } = await openAutobahn({
      url,
      realm: 'realm1',
      authmethods: ['ticket'],
      authid: 'joe',
      onchallenge: (_s, method) => (method === 'ticket' ? 'joe-ticket' : ''),
    });
    assert.equal(details.authrole, 'user');
    assert.ok(session.id > 0);
    await closeAutobahn(connection);
    await assert.rejects(
      openAutobahn({
        url,
        realm: 'realm1',
        authmethods: ['ticket'],
        authid: 'joe',
        onchallenge: () => 'wrong',
      }),
      /authentication_failed/,
    );
  });

  test('WAMP-CRA: the challenge names the WELCOME session; the HMAC is verified', async () => {
    const c = await open();
    const challenge = await hello(c, { authmethods: ['wampcra'], authid: 'alice' });
    assert.deepEqual(challenge.slice(0, 2), [4, 'wampcra']);
    const text = (challenge[2] as { challenge: string }).challenge;
    const parsed = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual([parsed.authid, parsed.authrole, parsed.authmethod], ['alice', 'backend', 'wampcra']);
    const welcome = await authenticate(c, createHmac('sha256', 'alice-secret').update(text).digest('base64'));
    assert.equal(welcome[0], 2);
    assert.equal(welcome[1], parsed.session);
    assert.equal((welcome[2] as { authmethod: string }).authmethod, 'wampcra');

    const wrong = await open();
    const again = await hello(wrong, { authmethods: ['wampcra'], authid: 'alice' });
    const signature = createHmac('sha256', 'not-the-secret')
      .update((again[2] as { challenge: string }).challenge)
      .digest('base64');
    assert.equal((await authenticate(wrong, signature))[2], 'wamp.error.authentication_failed');
  });

  test('salted WAMP-CRA: salt, iterations, keylen; autobahn-js derive_key + sign is accepted', async () => {
    let extra: Record<string, unknown> = {};
    const { connection, details } = await openAutobahn({
      url,
      realm: 'realm1',
      authmethods: ['wampcra'],
      authid: 'bob',
      onchallenge: (_s, _method, e) => {
        extra = e;
        const key = autobahn.auth_cra.derive_key(
          'bob-password',
          e.salt as string,
          e.iterations as number,
          e.keylen as number,
        );
        return autobahn.auth_cra.sign(key, e.challenge as string);
      },
    });
    assert.deepEqual([extra.salt, extra.iterations, extra.keylen], ['salt1', 100, 32]);
    assert.deepEqual([details.authid, details.authrole], ['bob', 'user']);
    await closeAutobahn(connection);
  });

  test('WAMP-CRA (plain and salted) with wampy', async () => {
    for (const [authid, secret, role] of [
      ['alice', 'alice-secret', 'backend'],
      ['bob', 'bob-password', 'user'],
    ]) {
      const w = newWampy(url, {
        authid,
        authmethods: ['wampcra'],
        onChallenge: wampcraSign(secret!) as unknown as WampyOptions['onChallenge'],
      });
      const details = await w.connect();
      assert.equal(details.authrole, role);
      await w.disconnect();
    }
  });

  test('cryptosign with autobahn-js and wampy; an unknown key is refused', async () => {
    const pkey = autobahn.nacl.sign.keyPair.fromSeed(Buffer.from(SEED, 'hex'));
    const { connection, details } = await openAutobahn({
      url,
      realm: 'realm1',
      authmethods: ['cryptosign'],
      authextra: { pubkey: PUBKEY },
      onchallenge: (_s, _method, extra) =>
        autobahn.auth_cryptosign.sign_challenge(pkey, extra as { challenge: string }),
    });
    assert.deepEqual(
      [details.authid, details.authrole, details.authmethod],
      ['carol', 'backend', 'cryptosign'],
    );
    await closeAutobahn(connection);

    const w = newWampy(url, {
      authid: 'carol',
      authmethods: ['cryptosign'],
      authextra: { pubkey: PUBKEY },
      onChallenge: cryptosignSign(SEED) as unknown as WampyOptions['onChallenge'],
    });
    assert.equal((await w.connect()).authid, 'carol');
    await w.disconnect();

    const stranger = autobahn.nacl.sign.keyPair.fromSeed(Buffer.alloc(32, 9));
    await assert.rejects(
      openAutobahn({
        url,
        realm: 'realm1',
        authmethods: ['cryptosign'],
        authextra: { pubkey: Buffer.from(stranger.publicKey).toString('hex') },
        onchallenge: (_s, _m, extra) =>
          autobahn.auth_cryptosign.sign_challenge(stranger, extra as { challenge: string }),
      }),
      /authentication_failed/,
    );
  });

  test('a role the realm does not define gets ABORT no_such_role', async () => {
    const c = await open();
    assert.equal((await hello(c, { authmethods: ['ticket'], authid: 'joe' }, 'backoffice'))[0], 4);
    assert.equal((await authenticate(c, 'joe-ticket'))[2], 'wamp.error.no_such_role');
  });

  test('AUTHENTICATE out of place is a protocol violation', async () => {
    const c = await open();
    c.send([5, 'sig', {}]);
    assert.equal((await within(c.next(3), 2000, 'ABORT'))[2], 'wamp.error.protocol_violation');
  });

  test('permissions per role and URI: exact, prefix, starred; denied requests get not_authorized', async () => {
    const [user] = await ticketSession('joe', 'joe-ticket');
    const backend = await open();
    const challenge = await hello(backend, { authmethods: ['wampcra'], authid: 'alice' });
    await authenticate(
      backend,
      createHmac('sha256', 'alice-secret')
        .update((challenge[2] as { challenge: string }).challenge)
        .digest('base64'),
    );
    const expect = async (message: unknown[], ok: number) => {
      const request = user.id();
      message[1] = request;
      user.send(message);
      const reply = await within(user.reply(request, [ok, 8]), 2000, JSON.stringify(message));
      return reply[0] === ok ? 'allowed' : reply[4];
    };
    await backend.register('com.app.echo');
    await backend.register('com.app.secret');
    const echo = (async () => {
      for (;;) {
        const inv = await backend.next(68);
        backend.send([70, inv[1], {}, ['ok']]);
      }
    })();
    void echo;
    assert.equal(await expect([48, 0, {}, 'com.app.echo'], 50), 'allowed');
    assert.equal(await expect([48, 0, {}, 'com.app.secret'], 50), 'wamp.error.not_authorized');
    assert.equal(await expect([48, 0, {}, 'com.app.nothing'], 50), 'wamp.error.no_such_procedure');
    assert.equal(await expect([48, 0, {}, 'org.other'], 50), 'wamp.error.not_authorized');
    assert.equal(await expect([64, 0, {}, 'com.app.mine'], 65), 'wamp.error.not_authorized');
    assert.equal(await expect([64, 0, {}, 'com.app.user.mine'], 65), 'allowed');
    assert.equal(
      await expect([16, 0, { acknowledge: true }, 'com.app.news'], 17),
      'wamp.error.not_authorized',
    );
    assert.equal(await expect([16, 0, { acknowledge: true }, 'com.app.user.news'], 17), 'allowed');
    assert.equal(await expect([32, 0, {}, 'com.app.news'], 33), 'allowed');
    assert.equal(await expect([32, 0, { match: 'prefix' }, 'com.'], 33), 'wamp.error.not_authorized');
    assert.equal(await expect([32, 0, {}, 'wamp.session.on_join'], 33), 'wamp.error.not_authorized');
    assert.equal(await expect([48, 0, {}, 'wamp.session.count'], 50), 'allowed');
    assert.equal(await expect([48, 0, {}, 'wamp.session.list'], 50), 'wamp.error.not_authorized');
  });
});
