import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { finished, GUARD_MS, killRuns, pusherJs, started } from '../helpers/cli.js';
import {
  APP,
  connected,
  nextEvent,
  pusherSdk as sdk,
  startHerald,
  type TestHerald,
} from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';

const PACKAGE = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'herald-cli-'));
});
after(async () => {
  killRuns();
  await rm(dir, { recursive: true, force: true });
});

describe('herald start', () => {
  test('prints the bound port and how to connect; SIGTERM sends 4200, removes the pid file and exits 0', async () => {
    const pidFile = join(dir, 'herald.pid');
    const { run, port } = await started(['--pid-file', pidFile]);
    assert.notEqual(port, 0);
    assert.match(
      run.stdout(),
      new RegExp(`new Pusher\\('app-key', \\{ wsHost: '127\\.0\\.0\\.1', wsPort: ${port}\\b`),
    );
    assert.match(run.stdout(), new RegExp(`http://127\\.0\\.0\\.1:${port}/apps/app-id/events`));
    assert.equal((await readFile(pidFile, 'utf8')).trim(), String(run.child.pid));

    const client = pusherJs(port, 'app-key');
    const raw = await within(
      RawClient.connect(`ws://127.0.0.1:${port}/app/app-key?protocol=7&client=js&version=8.6.0`),
      GUARD_MS,
      'raw client',
    );
    try {
      await within(connected(client), GUARD_MS, 'pusher-js to connect');
      const channel = client.subscribe('status');
      await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');

      const told = new Promise<{ type: string; data: { code: number } }>((resolve) =>
        client.connection.bind('error', (e: { type: string; data: { code: number } }) => {
          if (e.data?.code === 4200) resolve(e);
        }),
      );
      run.child.kill('SIGTERM');

      const error = await within(raw.client.next('pusher:error'), GUARD_MS, 'pusher:error before the close');
      assert.equal((error.data as { code: number }).code, 4200);
      assert.equal((await within(raw.client.closed, GUARD_MS, 'the close')).code, 4200);
      assert.equal((await within(told, GUARD_MS, 'pusher-js to see 4200')).type, 'PusherError');
      client.disconnect();

      assert.deepEqual(
        await within(run.exited, GUARD_MS, 'herald to exit'),
        { code: 0, signal: null },
        `${run.stdout()}\n${run.stderr()}`,
      );
      assert.equal(existsSync(pidFile), false);
      assert.match(run.stdout(), /shutting down/);
    } finally {
      client.disconnect();
      raw.client.close();
    }
  });

  test('app credentials: flags override HERALD_APP_* which override the file', async () => {
    const file = join(dir, 'precedence.json');
    await writeFile(
      file,
      JSON.stringify({ apps: [{ id: 'file-id', key: 'file-key', secret: 'file-secret' }] }),
    );
    const { run, port } = await started(['--config', file, '--app-secret', 'flag-secret'], {
      HERALD_APP_KEY: 'env-key',
      HERALD_APP_SECRET: 'env-secret',
    });
    const client = pusherJs(port, 'env-key');
    try {
      // The key comes from the environment: the file's key is now unknown.
      await within(connected(client), GUARD_MS, 'pusher-js with the env key');
      const refused = await within(
        RawClient.open(`ws://127.0.0.1:${port}/app/file-key?protocol=7&client=js&version=8.6.0`),
        GUARD_MS,
        'file key socket',
      );
      assert.equal((await within(refused.closed, GUARD_MS, 'file key refusal')).code, 4001);

      const channel = client.subscribe('precedence');
      await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
      const received = nextEvent(channel, 'signed');

      // The id stays the file's; the secret is the flag's.
      const good = sdk(port, { id: 'file-id', key: 'env-key', secret: 'flag-secret' });
      for (const secret of ['env-secret', 'file-secret']) {
        await assert.rejects(
          sdk(port, { id: 'file-id', key: 'env-key', secret }).trigger('precedence', 'x', {}),
          {
            status: 401,
          },
        );
      }
      await assert.rejects(
        sdk(port, { id: 'app-id', key: 'env-key', secret: 'flag-secret' }).trigger('precedence', 'x', {}),
        {
          status: 404,
        },
      );
      assert.equal((await good.trigger('precedence', 'signed', { by: 'flag' })).status, 200);
      assert.deepEqual(await within(received, GUARD_MS, 'the signed event'), { by: 'flag' });
    } finally {
      client.disconnect();
      run.child.kill('SIGTERM');
      await run.exited;
    }
  });

  test('a config file with an unknown key, a wrong type and a duplicate app key: exit 2, every problem named', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(
      file,
      JSON.stringify({
        listenPort: 7000,
        activityTimeoutSeconds: 'soon',
        apps: [
          { id: 'one', key: 'same-key', secret: 's1' },
          { id: 'two', key: 'same-key', secret: 's2' },
        ],
      }),
    );
    const { code, stdout, stderr } = await finished(['start', '--config', file, '--port', '0']);
    assert.equal(code, 2);
    assert.match(stderr, /^\s*listenPort: .*unrecognized/im);
    assert.match(stderr, /^\s*activityTimeoutSeconds: .*expected number/im);
    assert.match(stderr, /^\s*apps\.1\.key: duplicate app key "same-key"/m);
    assert.doesNotMatch(stdout, /listening/);
  });

  test('HERALD_PORT=abc: exit 2 naming port', async () => {
    const { code, stdout, stderr } = await finished(['start'], { HERALD_PORT: 'abc' });
    assert.equal(code, 2);
    assert.match(stderr, /^\s*port: /m);
    assert.doesNotMatch(stdout, /listening/);
  });
});

describe('herald trigger', () => {
  let server: TestHerald;
  before(async () => {
    server = await startHerald();
  });
  after(() => server.stop());

  const credentials = (secret: string) => [
    '--app-id',
    APP.id,
    '--app-key',
    APP.key,
    '--app-secret',
    secret,
    '--url',
    server.httpUrl,
  ];

  test('delivers to a pusher-js subscriber and exits 0; a wrong secret exits 1 with the 401', async () => {
    const client = server.client();
    await within(connected(client), GUARD_MS, 'pusher-js to connect');
    const channel = client.subscribe('cli-events');
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
    const received: unknown[] = [];
    channel.bind('deploy', (d: unknown) => received.push(d));
    const delivered = nextEvent(channel, 'deploy');

    const refused = await finished([
      'trigger',
      'cli-events',
      'deploy',
      '{"rev":"refused"}',
      ...credentials('wrong-secret'),
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\b401\b/);

    const ok = await finished([
      'trigger',
      'cli-events',
      'deploy',
      '{"rev":"abc123"}',
      ...credentials(APP.secret),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(await within(delivered, GUARD_MS, 'the triggered event'), { rev: 'abc123' });
    // The refused trigger was sent first, so had it been delivered it would have come first.
    assert.deepEqual(received, [{ rev: 'abc123' }]);
  });
});

describe('herald --help / --version', () => {
  test('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await finished(['--help']);
    assert.equal(code, 0);
    assert.match(stdout, /^Usage:/);
    assert.match(stdout, /herald start/);
    assert.match(stdout, /herald trigger/);
  });

  test('--help names the defaults the schema gives, and the configuration reference', async () => {
    const defaults = configSchema.parse({});
    const { stdout } = await finished(['--help']);
    assert.ok(stdout.includes(`listen address (default ${defaults.host})`), stdout);
    assert.ok(stdout.includes(`listen port (default ${defaults.port})`), stdout);
    const app = defaults.apps[0]!;
    assert.ok(stdout.includes(`(default ${app.id} / ${app.key} / ${app.secret})`), stdout);
    assert.match(stdout, /See docs\/configuration\.md for every setting/);
  });

  test('--version prints the package version', async () => {
    const { code, stdout } = await finished(['--version']);
    assert.equal(code, 0);
    assert.equal(stdout.trim(), PACKAGE.version);
  });
});
