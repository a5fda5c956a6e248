import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

const problems = (input: unknown): string[] => {
  try {
    parseConfig(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return [...err.problems];
  }
  return [];
};

test('defaults: /ws, realm1 open to anonymous, anonymous auth only', () => {
  const { wamp } = parseConfig({});
  assert.equal(wamp.path, '/ws');
  assert.deepEqual(
    wamp.realms.map((r) => [r.name, r.uriCheck, r.roles.map((role) => role.name)]),
    [['realm1', 'loose', ['anonymous']]],
  );
  assert.deepEqual(wamp.realms[0]!.roles[0]!.permissions[0]!.allow, {
    call: true,
    register: true,
    publish: true,
    subscribe: true,
  });
  assert.deepEqual(wamp.auth, { anonymous: { role: 'anonymous' } });
  assert.equal(wamp.maxMessageBytes, 16 * 1024 * 1024);
  assert.equal(wamp.rawsocketMaxMessageBytes, 16 * 1024 * 1024);
});

test('an auth section replaces the default: anonymous only when listed', () => {
  const { wamp } = parseConfig({
    wamp: {
      realms: [{ name: 'realm1', roles: [{ name: 'user' }] }],
      auth: { ticket: { principals: { joe: { ticket: 't', role: 'user' } } } },
    },
  });
  assert.equal(wamp.auth.anonymous, undefined);
  assert.deepEqual(wamp.realms[0]!.roles, [{ name: 'user', permissions: [] }]);
});

test("Crossbar's spelling: type static on each method, realms with roles and permissions as crossbar init writes them", () => {
  const init = JSON.parse(
    readFileSync(new URL('../../../../test/fixtures/import/crossbar-init.json', import.meta.url), 'utf8'),
  );
  const { wamp } = parseConfig({
    wamp: {
      realms: [
        ...init.workers[0].realms,
        {
          name: 'com.example',
          roles: [
            { name: 'frontend', permissions: [{ uri: 'com.example.*', allow: { call: true }, cache: true }] },
          ],
        },
      ],
      auth: {
        anonymous: { type: 'static', role: 'anonymous' },
        ticket: { type: 'static', principals: { w: { ticket: 't', role: 'frontend' } } },
        wampcra: { type: 'static', users: { joe: { secret: 'secret2', role: 'frontend' } } },
        cryptosign: {
          type: 'static',
          principals: { d: { authorized_keys: ['ab'.repeat(32)], role: 'frontend' } },
        },
      },
    },
  });
  assert.equal(wamp.realms[0]!.roles[0]!.permissions[0]!.allow.register, true);
  assert.equal(wamp.realms[1]!.roles[0]!.permissions[0]!.allow.call, true);
  assert.deepEqual(Object.keys(wamp.auth).sort(), ['anonymous', 'cryptosign', 'ticket', 'wampcra']);
  assert.equal(wamp.auth.wampcra!.users.joe!.secret, 'secret2');
  const dynamic = problems({
    wamp: { auth: { wampcra: { type: 'dynamic', authenticator: 'com.example.authenticate' } } },
  });
  assert.ok(
    dynamic.some((p) =>
      /^wamp\.auth\.wampcra\.type: only "static": Herald has no dynamic authenticators/.test(p),
    ),
    dynamic.join('\n'),
  );
  assert.ok(dynamic.includes('wamp.auth.wampcra.authenticator: Unrecognized key: "authenticator"'));
});

test('bad realms, roles and keys are reported together, each by its path', () => {
  const found = problems({
    wamp: {
      realms: [{ name: 'ab' }, { name: 'realm1' }, { name: 'realm1' }],
      auth: {
        anonymous: { role: 'guest' },
        cryptosign: { principals: { k: { authorized_keys: ['xyz'], role: 'anonymous' } } },
      },
    },
  });
  assert.ok(found.some((p) => p.startsWith('wamp.realms.0.name:')));
  assert.ok(found.some((p) => p.startsWith('wamp.auth.cryptosign.principals.k.authorized_keys.0:')));
  const valid = problems({
    wamp: {
      realms: [{ name: 'realm1' }, { name: 'realm1' }],
      auth: { anonymous: { role: 'guest' } },
    },
  });
  assert.deepEqual(valid.sort(), [
    'wamp.auth.anonymous.role: role "guest" is in no realm\'s roles',
    'wamp.realms.1.name: duplicate realm "realm1"',
  ]);
});

test('realm allowedOrigins: every origin by default; bad entries reported by path', () => {
  const [realm] = parseConfig({}).wamp.realms;
  assert.deepEqual(realm!.allowedOrigins, ['*']);
  assert.equal(realm!.requireOrigin, false);
  const found = problems({
    wamp: { realms: [{ name: 'realm1', allowedOrigins: ['https://example.com', 'example.*'] }] },
  });
  assert.equal(found.length, 1);
  assert.match(found[0]!, /^wamp\.realms\.0\.allowedOrigins\.1: "example\.\*" is not "\*"/);
});

test('wamp.killTimeoutMs past the longest timer Node.js can arm is refused', () => {
  assert.equal(parseConfig({ wamp: { killTimeoutMs: 2 ** 31 - 1 } }).wamp.killTimeoutMs, 2 ** 31 - 1);
  assert.ok(problems({ wamp: { killTimeoutMs: 2 ** 31 } }).some((p) => p.startsWith('wamp.killTimeoutMs:')));
});

test('WAMP limits: generous defaults, null for no subscription or registration limit, bad values refused', () => {
  const { wamp } = parseConfig({});
  assert.equal(wamp.helloTimeoutMs, 10_000);
  const realm = wamp.realms[0]!;
  assert.deepEqual(
    [
      realm.maxSubscriptionsPerSession,
      realm.maxRegistrationsPerSession,
      realm.maxRetainedBytes,
      realm.maxRetainedEventBytes,
      realm.maxTestamentsPerSession,
      realm.maxTestamentBytes,
    ],
    [1000, 1000, 64 * 1024 * 1024, 64 * 1024, 10, 64 * 1024],
  );
  const open = parseConfig({
    wamp: {
      realms: [{ name: 'realm1', maxSubscriptionsPerSession: null, maxRegistrationsPerSession: null }],
    },
  }).wamp.realms[0]!;
  assert.equal(open.maxSubscriptionsPerSession, null);
  assert.equal(open.maxRegistrationsPerSession, null);
  const bad = problems({
    wamp: {
      helloTimeoutMs: 2 ** 31,
      realms: [{ name: 'realm1', maxRetainedBytes: 0, maxTestamentsPerSession: -1 }],
    },
  });
  for (const path of [
    'wamp.helloTimeoutMs:',
    'wamp.realms.0.maxRetainedBytes:',
    'wamp.realms.0.maxTestamentsPerSession:',
  ]) {
    assert.ok(
      bad.some((p) => p.startsWith(path)),
      `${path} in ${bad.join('; ')}`,
    );
  }
});

test('eventHistory: rules with defaults; duplicates, bad or reserved URIs and too much history refused', () => {
  const [realm] = parseConfig({
    wamp: {
      realms: [
        { name: 'realm1', eventHistory: [{ uri: 'com.a' }, { uri: 'com.', match: 'prefix', limit: 1000 }] },
      ],
    },
  }).wamp.realms;
  assert.deepEqual(realm!.eventHistory, [
    { uri: 'com.a', match: 'exact', limit: 100 },
    { uri: 'com.', match: 'prefix', limit: 1000 },
  ]);
  assert.equal(realm!.maxHistoryEventBytes, 64 * 1024);
  const history = (eventHistory: unknown[], more: Record<string, unknown> = {}) =>
    problems({ wamp: { realms: [{ name: 'realm1', eventHistory, ...more }] } });
  assert.match(
    history([{ uri: 'com.a' }, { uri: 'com.a', match: 'exact' }])[0]!,
    /eventHistory\.1: duplicate rule/,
  );
  assert.match(history([{ uri: 'wamp.session.on_join' }])[0]!, /eventHistory\.0\.uri:/);
  assert.match(history([{ uri: 'com..a' }])[0]!, /eventHistory\.0\.uri:/);
  assert.deepEqual(history([{ uri: 'com..a', match: 'wildcard' }]), []);
  assert.match(history([{ uri: 'Com.A' }], { uriCheck: 'strict' })[0]!, /eventHistory\.0\.uri:/);
  assert.match(history([{ uri: 'com.a', limit: 1001 }])[0]!, /eventHistory\.0\.limit:/);
  const many = Array.from({ length: 11 }, (_, i) => ({ uri: `com.t${i}`, limit: 1000 }));
  assert.match(history(many)[0]!, /eventHistory: the rules keep 11000 events in all; at most 10000/);
  assert.match(
    history(many.slice(0, 5), { maxHistoryEventBytes: 64 * 1024 })[0]!,
    /maxHistoryEventBytes: the rules' 5000 events .* could hold more than 268435456 bytes/,
  );
});
