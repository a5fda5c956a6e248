import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  type AuthConfig,
  Authenticator,
  type AuthOutcome,
  craSignature,
  deriveCraKey,
  verifyCryptosign,
} from '../../../../src/protocol/wamp/auth.js';
import { ProtocolViolation } from '../../../../src/protocol/wamp/errors.js';
import { autobahn } from '../../../helpers/autobahn.js';

// Test vector of the WAMP spec, Advanced Profile, Cryptosign-based Authentication.
const SEED = '4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510';
const PUBKEY = '1adfc8bfe1d35616e64dffbd900096f23b066f914c8c2ffbb66f6075b96e116d';
const CHALLENGE = 'ff'.repeat(32);
const SIGNATURE =
  'b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5cc9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03';

/** Signs like a cryptosign client: hex(signature ‖ challenge). */
function signChallenge(seedHex: string, challengeHex: string): string {
  const key = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')]),
    format: 'der',
    type: 'pkcs8',
  });
  return sign(null, Buffer.from(challengeHex, 'hex'), key).toString('hex') + challengeHex;
}

describe('cryptosign', () => {
  test("the WAMP spec's vector verifies", () => {
    assert.equal(verifyCryptosign(PUBKEY, CHALLENGE, SIGNATURE + CHALLENGE), true);
    assert.equal(signChallenge(SEED, CHALLENGE), SIGNATURE + CHALLENGE);
  });

  test('a signature over another challenge is rejected', () => {
    const other = 'ee'.repeat(32);
    assert.equal(verifyCryptosign(PUBKEY, CHALLENGE, signChallenge(SEED, other)), false);
    assert.equal(
      verifyCryptosign(PUBKEY, CHALLENGE, signChallenge(SEED, other).slice(0, 128) + CHALLENGE),
      false,
    );
    assert.equal(verifyCryptosign(PUBKEY, CHALLENGE, 'zz'), false);
  });

  test('autobahn-js sign_challenge is accepted', () => {
    const pkey = autobahn.nacl.sign.keyPair.fromSeed(Buffer.from(SEED, 'hex'));
    const challenge = 'a5'.repeat(32);
    assert.equal(
      verifyCryptosign(PUBKEY, challenge, autobahn.auth_cryptosign.sign_challenge(pkey, { challenge })),
      true,
    );
  });
});

describe('WAMP-CRA', () => {
  test('signatures and derived keys match autobahn-js', () => {
    const challenge = '{"nonce":"x","session":1}';
    assert.equal(craSignature('secret1', challenge), autobahn.auth_cra.sign('secret1', challenge));
    const key = deriveCraKey('password', 'salt123', 100, 16);
    assert.equal(key, autobahn.auth_cra.derive_key('password', 'salt123', 100, 16));
    assert.equal(craSignature(key, challenge), autobahn.auth_cra.sign(key, challenge));
  });
});

describe('Authenticator', () => {
  const config: AuthConfig = {
    anonymous: { role: 'anonymous' },
    ticket: { principals: { joe: { ticket: 'secret!!!', role: 'user' } } },
    wampcra: {
      users: {
        alice: { secret: 'alice-secret', role: 'user' },
        bob: { secret: 'bob-password', role: 'admin', salt: 'pepper', iterations: 100, keylen: 32 },
      },
    },
    cryptosign: { principals: { carol: { authorized_keys: [PUBKEY], role: 'admin' } } },
  };
  const auth = new Authenticator(config);
  const now = new Date('2026-01-02T03:04:05.678Z');
  const challenged = (o: AuthOutcome) => {
    assert.equal(o.kind, 'challenge');
    return o as Extract<AuthOutcome, { kind: 'challenge' }>;
  };

  test('no authmethods means anonymous', () => {
    const o = auth.hello({}, 1, now);
    assert.ok(o.kind === 'welcome');
    assert.equal(o.principal.authmethod, 'anonymous');
    assert.equal(o.principal.authrole, 'anonymous');
    assert.match(o.principal.authid, /^[A-Z0-9]{4}(-[A-Z0-9]{4}){5}$/);
  });

  test('ticket: right ticket, wrong ticket, unknown principal', () => {
    const c = challenged(auth.hello({ authmethods: ['ticket'], authid: 'joe' }, 1, now));
    assert.equal(c.method, 'ticket');
    assert.deepEqual(c.pending.verify('secret!!!'), {
      authid: 'joe',
      authrole: 'user',
      authmethod: 'ticket',
      authprovider: 'static',
    });
    assert.equal(c.pending.verify('wrong'), undefined);
    assert.equal(
      challenged(auth.hello({ authmethods: ['ticket'], authid: 'eve' }, 1, now)).pending.verify(''),
      undefined,
    );
  });

  test('wampcra: the challenge carries the session ID and the HMAC is checked', () => {
    const c = challenged(auth.hello({ authmethods: ['wampcra'], authid: 'alice' }, 4242, now));
    const text = c.extra.challenge as string;
    const parsed = JSON.parse(text);
    assert.equal(parsed.session, 4242);
    assert.equal(parsed.authid, 'alice');
    assert.equal(parsed.authmethod, 'wampcra');
    assert.equal(parsed.timestamp, '2026-01-02T03:04:05.678Z');
    assert.equal(c.extra.salt, undefined);
    assert.equal(c.pending.verify(autobahn.auth_cra.sign('alice-secret', text))?.authrole, 'user');
    assert.equal(c.pending.verify(autobahn.auth_cra.sign('wrong', text)), undefined);
  });

  test('salted wampcra: salt, iterations and keylen in the challenge', () => {
    const c = challenged(auth.hello({ authmethods: ['wampcra'], authid: 'bob' }, 7, now));
    assert.deepEqual([c.extra.salt, c.extra.iterations, c.extra.keylen], ['pepper', 100, 32]);
    const key = autobahn.auth_cra.derive_key('bob-password', 'pepper', 100, 32);
    assert.equal(c.pending.verify(autobahn.auth_cra.sign(key, c.extra.challenge as string))?.authid, 'bob');
    assert.equal(
      c.pending.verify(autobahn.auth_cra.sign('bob-password', c.extra.challenge as string)),
      undefined,
    );
  });

  test("Crossbar's spelling, type static: a salted user's secret is the key derived from the password", () => {
    // Crossbar's documented user: the secret is derive_key('secret1', 'salt123', 100, 16).
    const crossbar = new Authenticator({
      wampcra: {
        type: 'static',
        users: {
          peter: {
            secret: 'prq7+YkJ1/KlW1X0YczMHw==',
            role: 'frontend',
            salt: 'salt123',
            iterations: 100,
            keylen: 16,
          },
        },
      },
    });
    const c = challenged(crossbar.hello({ authmethods: ['wampcra'], authid: 'peter' }, 9, now));
    assert.deepEqual([c.extra.salt, c.extra.iterations, c.extra.keylen], ['salt123', 100, 16]);
    const key = autobahn.auth_cra.derive_key('secret1', 'salt123', 100, 16);
    assert.equal(key, 'prq7+YkJ1/KlW1X0YczMHw==');
    const text = c.extra.challenge as string;
    assert.equal(c.pending.verify(autobahn.auth_cra.sign(key, text))?.authrole, 'frontend');
    const twice = autobahn.auth_cra.derive_key(key, 'salt123', 100, 16);
    assert.equal(c.pending.verify(autobahn.auth_cra.sign(twice, text)), undefined);
  });

  test('cryptosign: known key, authid assigned from the principal', () => {
    const c = challenged(auth.hello({ authmethods: ['cryptosign'], authextra: { pubkey: PUBKEY } }, 1, now));
    assert.match(c.extra.challenge as string, /^[0-9a-f]{64}$/);
    const principal = c.pending.verify(signChallenge(SEED, c.extra.challenge as string));
    assert.equal(principal?.authid, 'carol');
    assert.equal(principal?.authrole, 'admin');
  });

  test('cryptosign: an unknown key is challenged but never accepted', () => {
    const other = autobahn.nacl.sign.keyPair.fromSeed(Buffer.alloc(32, 7));
    const c = challenged(
      auth.hello(
        { authmethods: ['cryptosign'], authextra: { pubkey: Buffer.from(other.publicKey).toString('hex') } },
        1,
        now,
      ),
    );
    const signature = autobahn.auth_cryptosign.sign_challenge(other, {
      challenge: c.extra.challenge as string,
    });
    assert.equal(c.pending.verify(signature), undefined);
  });

  test('walks the client order and skips methods it cannot use', () => {
    assert.equal(auth.hello({ authmethods: ['ticket', 'anonymous'] }, 1, now).kind, 'welcome');
    assert.equal(
      challenged(auth.hello({ authmethods: ['scram', 'wampcra'], authid: 'alice' }, 1, now)).method,
      'wampcra',
    );
  });

  test('nothing usable: ABORT no_matching_auth_method', () => {
    const o = new Authenticator({}).hello({}, 1, now);
    assert.ok(o.kind === 'abort');
    assert.equal(o.reason, 'wamp.error.no_matching_auth_method');
  });

  test('authmethods of the wrong type is a protocol violation', () => {
    assert.throws(() => auth.hello({ authmethods: 'ticket' }, 1, now), ProtocolViolation);
  });
});
