import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { autobahn, closeAutobahn, openAutobahn } from '../helpers/autobahn.js';
import { brokerSkip, deleteRedisPrefix, uniquePrefix } from '../helpers/brokers.js';
import { finished, GUARD_MS, killRuns, pusherJs, type Run, started } from '../helpers/cli.js';
import { connected, nextEvent, pusherSdk } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';

/**
 * `herald import` through the real CLI: each peer's file becomes a configuration that Herald's own
 * loader accepts, the settings it cannot carry are named on stderr, and a server started from the
 * result serves the peer's clients: pusher-js with the soketi and Reverb apps, autobahn-js with the
 * Crossbar realm, roles and principals.
 */

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/import/', import.meta.url));

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'herald-import-'));
});
after(async () => {
  killRuns();
  await rm(dir, { recursive: true, force: true });
});

/** `herald import <peer> <file> [...]`, its stdout written to a file of `ext`; the run and that file. */
async function imported(peer: string, file: string, ext = 'json', args: string[] = []) {
  const run = await finished(['import', peer, file, ...args]);
  assert.equal(run.code, 0, run.stderr);
  const out = join(dir, `${peer}-${Math.random().toString(36).slice(2)}.${ext}`);
  await writeFile(out, run.stdout);
  return { ...run, out };
}

/** The settings each warning line of `stderr` names. */
const warned = (stderr: string) =>
  [...stderr.matchAll(/^herald import: warning: (\S+): .+$/gm)].map((m) => m[1]);

async function stop(run: Run): Promise<void> {
  run.child.kill('SIGTERM');
  await within(run.exited, GUARD_MS, 'herald to exit');
}

describe('herald import, each peer', () => {
  for (const [peer, fixture, setting] of [
    ['soketi', 'soketi-config.json', 'queue.driver'],
    ['soketi', 'soketi.env', 'SOKETI_CLUSTER_PORT'],
    ['reverb', 'reverb.env', 'REVERB_APP_PING_INTERVAL'],
    ['crossbar', 'crossbar-init.json', 'workers.0.transports.0'],
    ['crossbar', 'crossbar-auth.json', 'workers.0.transports.1.auth.wampcra'],
  ] as const) {
    test(`${peer} ${fixture}: a file herald start --config loads, JSON and YAML alike`, async () => {
      const json = await imported(peer, join(FIXTURES, fixture));
      assert.ok(warned(json.stderr).includes(setting), json.stderr);
      const fromJson = await loadConfig({ file: json.out, env: {} });
      const yaml = await imported(peer, join(FIXTURES, fixture), 'yaml', ['--format', 'yaml']);
      assert.deepEqual(parse(yaml.stdout), JSON.parse(json.stdout));
      assert.deepEqual(await loadConfig({ file: yaml.out, env: {} }), fromJson);
    });
  }
});

const redisSkip = await brokerSkip('redis');

describe('a server started from the import', () => {
  test('soketi: two apps over Redis; pusher-js gets what the SDK publishes with the imported secret', {
    skip: redisSkip,
  }, async () => {
    const prefix = uniquePrefix('import');
    const soketi = join(dir, 'soketi.json');
    await writeFile(
      soketi,
      JSON.stringify({
        'appManager.array.apps': [
          { id: 'one', key: 'key-one', secret: 'secret-one' },
          { id: 2, key: 'key-two', secret: 'secret-two', enableClientMessages: true },
        ],
        adapter: { driver: 'redis', redis: { prefix } },
        database: { redis: { host: '127.0.0.1', port: 6379 } },
      }),
    );
    const { out } = await imported('soketi', soketi);
    const { run, port } = await started(['--config', out]);
    const client = pusherJs(port, 'key-two');
    try {
      await within(connected(client), GUARD_MS, 'pusher-js with the second app');
      const channel = client.subscribe('orders');
      await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscribed');
      const event = nextEvent(channel, 'shipped');
      await pusherSdk(port, { id: '2', key: 'key-two', secret: 'secret-two' }).trigger('orders', 'shipped', {
        id: 7,
      });
      assert.deepEqual(await within(event, GUARD_MS, 'the event'), { id: 7 });
    } finally {
      client.disconnect();
      await stop(run);
      await deleteRedisPrefix(prefix);
    }
  });

  test('Reverb: the REVERB_ app on the REVERB_SERVER_ address; Echo-style whispers between members', async () => {
    const env = join(dir, 'reverb.env');
    await writeFile(
      env,
      'REVERB_APP_ID=42\nREVERB_APP_KEY=reverb-key\nREVERB_APP_SECRET=reverb-secret\n' +
        'REVERB_SERVER_HOST=127.0.0.1\nREVERB_SERVER_PORT=0\nREVERB_HOST=localhost\n',
    );
    const { out, stderr } = await imported('reverb', env);
    assert.deepEqual(warned(stderr), ['REVERB_HOST']);
    const { run, port } = await started(['--config', out]);
    const sdk = pusherSdk(port, { id: '42', key: 'reverb-key', secret: 'reverb-secret' });
    const auth = {
      channelAuthorization: {
        endpoint: '/unused',
        transport: 'ajax' as const,
        customHandler: (
          { socketId, channelName }: { socketId: string; channelName: string },
          callback: (error: Error | null, data: { auth: string } | null) => void,
        ) => callback(null, sdk.authorizeChannel(socketId, channelName)),
      },
    };
    const [a, b] = [pusherJs(port, 'reverb-key', auth), pusherJs(port, 'reverb-key', auth)];
    try {
      const [ca, cb] = [a.subscribe('private-chat'), b.subscribe('private-chat')];
      await within(
        Promise.all([
          nextEvent(ca, 'pusher:subscription_succeeded'),
          nextEvent(cb, 'pusher:subscription_succeeded'),
        ]),
        GUARD_MS,
        'both subscribed',
      );
      const typing = nextEvent(cb, 'client-typing');
      ca.trigger('client-typing', { name: 'ann' });
      assert.deepEqual(await within(typing, GUARD_MS, 'the whisper'), { name: 'ann' });
    } finally {
      a.disconnect();
      b.disconnect();
      await stop(run);
    }
  });

  test("Crossbar: the realm's roles and the static principals, through autobahn-js", async () => {
    const { out } = await imported('crossbar', join(FIXTURES, 'crossbar-auth.json'));
    const { run, port } = await started(['--config', out]);
    const url = `ws://127.0.0.1:${port}/ws`;
    const realm = 'com.example.shop';
    try {
      // worker-1 (ticket, backend) registers; joe (WAMP-CRA, frontend) calls; anonymous (public) may not.
      const backend = await openAutobahn({
        url,
        realm,
        authmethods: ['ticket'],
        authid: 'worker-1',
        onchallenge: () => 't1cket-worker-1',
      });
      assert.equal(backend.details.authrole, 'backend');
      await backend.session.register('com.example.shop.add', ([x, y]) => (x as number) + (y as number));
      const frontend = await openAutobahn({
        url,
        realm,
        authmethods: ['wampcra'],
        authid: 'joe',
        onchallenge: (_s, _m, extra) => autobahn.auth_cra.sign('secret2', extra.challenge as string),
      });
      assert.equal(frontend.details.authrole, 'frontend');
      assert.equal(await frontend.session.call('com.example.shop.add', [2, 3]), 5);
      const anonymous = await openAutobahn({ url, realm });
      assert.equal(anonymous.details.authrole, 'public');
      await assert.rejects(
        anonymous.session.call('com.example.shop.add', [1, 1]),
        (err: { error?: string }) => err.error === 'wamp.error.not_authorized',
      );
      // The salted user is carried as Crossbar stores him: he signs in with the password his key came from.
      const salted = await openAutobahn({
        url,
        realm,
        authmethods: ['wampcra'],
        authid: 'peter',
        onchallenge: (_s, _m, extra) =>
          autobahn.auth_cra.sign(
            autobahn.auth_cra.derive_key('secret1', extra.salt as string, 100, 16),
            extra.challenge as string,
          ),
      });
      assert.equal(salted.details.authrole, 'frontend');
      await closeAutobahn(salted.connection);
      for (const c of [backend, frontend, anonymous]) await closeAutobahn(c.connection);
    } finally {
      await stop(run);
    }
  });
});

describe('herald import, refused', () => {
  test('an unreadable file, a broken one, a wrong peer, bad usage: a one-line reason, never a stack', async () => {
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{\n  "port": 6001,\n  "appManager.array.apps": [\n');
    const cases: [string[], number, RegExp][] = [
      [['import', 'soketi', join(dir, 'missing.json')], 1, /missing\.json: cannot be read \(ENOENT\)/],
      [['import', 'soketi', broken], 1, /broken\.json: not valid JSON at line 4/],
      [['import', 'reverb', join(FIXTURES, 'soketi-config.json')], 1, /holds JSON, not NAME=value lines/],
      [
        ['import', 'crossbar', join(FIXTURES, 'soketi-config.json')],
        1,
        /no workers list: not a Crossbar node/,
      ],
      [['import', 'pusher', broken], 2, /"pusher" is not one of soketi, reverb, crossbar/],
      [['import', 'soketi'], 2, /takes one FILE/],
      [['import', 'soketi', broken, '--format', 'toml'], 2, /--format "toml"/],
    ];
    for (const [args, code, reason] of cases) {
      const run = await finished(args);
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, reason);
      assert.doesNotMatch(run.stderr, /^\s+at /m, 'a stack trace');
      assert.equal(run.stdout, '');
    }
    const help = await finished(['import', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /herald import soketi\|reverb\|crossbar FILE/);
    assert.match((await finished(['--help'])).stdout, /herald import <soketi\|reverb\|crossbar> FILE/);
  });
});
