import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/load.js';
import { hashPassword, isPasswordHash, verifyPassword } from '../../src/dashboard/auth.js';
import { childOutput } from '../helpers/child-output.js';
import { GUARD_MS, herald, killRuns, started } from '../helpers/cli.js';
import { dashboardSession } from '../helpers/dashboard.js';
import { databaseSkip, dropAppTable, migrate, storeEnv, uniqueTable } from '../helpers/databases.js';
import { within } from '../helpers/raw-client.js';

/**
 * `herald dashboard hash-password`, and the dashboard's line at start (the development setup's with
 * its credentials, a configured one's with its URL only), as an operator runs them.
 */

const BIN = fileURLToPath(new URL('../../../bin/herald.js', import.meta.url));

after(killRuns);

/** Runs `herald ...args` with `input` on standard input (a pipe, not a terminal). */
async function withInput(args: string[], input: string) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_') && k !== 'NODE_TEST_CONTEXT'),
  );
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const output = childOutput(child);
  child.stdin.end(input);
  return within(output, GUARD_MS, `herald ${args.join(' ')} to exit`);
}

test('hash-password prints a hash of the first line that the configuration takes and that verifies', async () => {
  const { code, stdout, stderr } = await withInput(
    ['dashboard', 'hash-password'],
    'päss word\r\nsecond line\n',
  );
  assert.equal(code, 0, stderr);
  const hash = stdout.trimEnd();
  assert.equal(stdout, `${hash}\n`);
  assert.ok(isPasswordHash(hash), hash);
  assert.equal(await verifyPassword('päss word', hash), true);
  assert.equal(await verifyPassword('päss word\r', hash), false);
  assert.doesNotThrow(() =>
    parseConfig({ dashboard: { enabled: true, users: [{ name: 'ada', passwordHash: hash }] } }),
  );
});

test('hash-password refuses an empty password and unknown commands', async () => {
  const empty = await withInput(['dashboard', 'hash-password'], '\n');
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /no password given/);
  assert.equal(empty.stdout, '');
  const unknown = await withInput(['dashboard', 'nope'], '');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "nope"/);
});

test('herald start with only the default app prints the dashboard URL and credentials that sign in', async () => {
  const { run, port } = await started([]);
  const m = await within(
    run.waitForStdout(/Dashboard: (http:\/\/\S+\/dashboard) \(name (\S+), password (\S+);/),
    GUARD_MS,
    'the dashboard line',
  );
  const [, url, name, password] = m as unknown as [string, string, string, string];
  assert.equal(url, `http://127.0.0.1:${port}/dashboard`);
  assert.equal(name, 'admin');
  const login = (body: unknown) =>
    fetch(`${url}/api/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  const wrong = await login({ name, password: `${password}x` });
  assert.equal(wrong.status, 401);
  await wrong.arrayBuffer();
  const ok = await login({ name, password });
  assert.equal(ok.status, 204);
  const session = await fetch(`${url}/api/session`, {
    headers: { cookie: ok.headers.get('set-cookie')!.split(';')[0]! },
  });
  assert.equal(((await session.json()) as { name: string }).name, 'admin');
  run.child.kill('SIGTERM');
  assert.equal((await within(run.exited, GUARD_MS, 'exit')).code, 0);
});

test('herald start with an app of its own has no dashboard unless configured', async () => {
  const { run, port } = await started(['--app-secret', 'my-secret']);
  assert.doesNotMatch(run.stdout(), /Dashboard:/);
  const response = await fetch(`http://127.0.0.1:${port}/dashboard`);
  assert.equal(response.status, 404);
  await response.arrayBuffer();
  run.child.kill('SIGTERM');
  assert.equal((await within(run.exited, GUARD_MS, 'exit')).code, 0);
});

for (const driver of ['postgres', 'mysql'] as const) {
  test(`herald start with apps in ${driver} prints the URL of the dashboard its configuration turns on`, {
    skip: await databaseSkip(driver),
  }, async () => {
    const table = uniqueTable();
    const env = {
      ...storeEnv(driver, table),
      HERALD_DASHBOARD_ENABLED: 'true',
      HERALD_DASHBOARD_USERS: JSON.stringify([
        { name: 'ada', passwordHash: await hashPassword('a configured password') },
      ]),
    };
    try {
      await migrate(env);
      // On the admin listener, which is where the dashboard is served when there is one.
      const run = herald(['start', '--host', '127.0.0.1', '--port', '0', '--api-port', '0'], env);
      const [, adminPort] = await within(
        run.waitForStdout(/admin listener [^\n]* on http:\/\/127\.0\.0\.1:(\d+)/),
        GUARD_MS,
        'the admin listener line',
      );
      const [line, url] = await within(
        run.waitForStdout(/Dashboard: (\S+)\n/),
        GUARD_MS,
        'the dashboard line',
      );
      assert.equal(url, `http://127.0.0.1:${adminPort}/dashboard`);
      assert.doesNotMatch(line, /password/, 'no password: the configuration holds only its hash');
      assert.doesNotMatch(run.stdout(), /Connect pusher-js|HTTP API:/, "the store's apps are not listed");
      await dashboardSession(`http://127.0.0.1:${adminPort}`, 'ada', 'a configured password');
      run.child.kill('SIGTERM');
      assert.equal((await within(run.exited, GUARD_MS, 'exit')).code, 0);
    } finally {
      await dropAppTable(driver, table);
    }
  });
}
