import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig, parseConfig } from '../../../src/config/load.js';
import { hashPassword, verifyPassword } from '../../../src/dashboard/auth.js';
import { developmentDashboard, isDevelopmentSetup } from '../../../src/dashboard/dev-default.js';

const problems = (input: unknown): string[] => {
  try {
    parseConfig(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return [...err.problems];
  }
  return [];
};

test('the dashboard is unset by default; its fields have defaults', async () => {
  assert.equal(parseConfig({}).dashboard, undefined);
  const hash = await hashPassword('pw');
  const { dashboard } = parseConfig({
    dashboard: { enabled: true, users: [{ name: 'ada', passwordHash: hash }] },
  });
  assert.deepEqual(dashboard, {
    enabled: true,
    users: [{ name: 'ada', passwordHash: hash }],
    sessionTtlMs: 12 * 60 * 60 * 1000,
  });
  assert.deepEqual(parseConfig({ dashboard: {} }).dashboard, {
    enabled: false,
    users: [],
    sessionTtlMs: 43_200_000,
  });
});

test('enabled without users is a problem saying what to do', () => {
  const found = problems({ dashboard: { enabled: true } });
  assert.equal(found.length, 1);
  assert.match(found[0]!, /^dashboard\.users: the dashboard is enabled but no one may sign in: add a user/);
  assert.match(found[0]!, /herald dashboard hash-password/);
});

test('a password instead of a hash, a short secret and a duplicate user are each named', async () => {
  const hash = await hashPassword('pw');
  const found = problems({
    dashboard: {
      enabled: true,
      users: [
        { name: 'ada', passwordHash: 'hunter2' },
        { name: 'bob', passwordHash: hash },
        { name: 'bob', passwordHash: hash },
      ],
      sessionSecret: 'short',
    },
  });
  assert.deepEqual(
    found.map((p) => p.split(':')[0]),
    ['dashboard.users.0.passwordHash', 'dashboard.sessionSecret', 'dashboard.users.2.name'],
  );
  assert.match(found[0]!, /not a hash `herald dashboard hash-password` makes/);
  assert.match(found[1]!, /at least 32 characters/);
  assert.match(found[2]!, /duplicate user "bob"/);
});

test('the environment sets the dashboard', async () => {
  const hash = await hashPassword('pw');
  const config = await loadConfig({
    env: {
      HERALD_DASHBOARD_ENABLED: 'true',
      HERALD_DASHBOARD_USERS: JSON.stringify([{ name: 'ada', passwordHash: hash }]),
      HERALD_DASHBOARD_SESSION_SECRET: 's'.repeat(32),
    },
  });
  assert.equal(config.dashboard?.enabled, true);
  assert.equal(config.dashboard?.sessionSecret, 's'.repeat(32));
});

test('the development setup: only the default app and no dashboard setting', async () => {
  assert.equal(isDevelopmentSetup(await loadConfig({ env: {} })), true);
  assert.equal(isDevelopmentSetup(await loadConfig({ env: { HERALD_APP_SECRET: 'mine' } })), false);
  assert.equal(isDevelopmentSetup(await loadConfig({ env: { HERALD_DASHBOARD_ENABLED: 'false' } })), false);
  assert.equal(
    isDevelopmentSetup(
      parseConfig({
        apps: [
          { id: 'app-id', key: 'app-key', secret: 'app-secret' },
          { id: 'b', key: 'b', secret: 'b' },
        ],
      }),
    ),
    false,
  );
  assert.equal(
    isDevelopmentSetup(parseConfig({ appStore: { driver: 'postgres', url: 'postgres://x/y' } })),
    false,
  );

  const dev = await developmentDashboard(parseConfig({}));
  assert.ok(dev);
  assert.equal(dev.name, 'admin');
  assert.match(dev.password, /^[A-Za-z0-9_-]{16}$/);
  const dashboard = dev.config.dashboard!;
  assert.equal(dashboard.enabled, true);
  assert.deepEqual(
    dashboard.users.map((u) => u.name),
    ['admin'],
  );
  // What the schema would accept as a configuration, and the printed password opens it.
  assert.doesNotThrow(() => parseConfig({ dashboard }));
  assert.equal(await verifyPassword(dev.password, dashboard.users[0]!.passwordHash), true);
  assert.equal(await developmentDashboard(parseConfig({ dashboard: {} })), undefined);
});
