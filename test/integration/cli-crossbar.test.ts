import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { autobahn, closeAutobahn, openAutobahn } from '../helpers/autobahn.js';
import { finished, GUARD_MS, killRuns, type Run, started } from '../helpers/cli.js';
import { autobahnPythonSkip, PythonClient } from '../helpers/python.js';
import { within } from '../helpers/raw-client.js';

/**
 * `herald start --config .crossbar/config.json`: a Crossbar.io node configuration, unchanged, starts
 * Herald through the importer's mapping. The one `crossbar init` writes serves autobahn-js and
 * autobahn-python at the path it names; one with roles and static WAMP-CRA users (salted as Crossbar
 * stores them) authenticates its users and applies its permissions; each setting Herald cannot
 * honour stops the start, naming the key, and the harmless rest is logged as warnings.
 */

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/import/', import.meta.url));

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'herald-crossbar-'));
});
after(async () => {
  killRuns();
  await rm(dir, { recursive: true, force: true });
});

/** A node directory `<name>/.crossbar/` holding `file` (JSON, or written as YAML for `.yaml`). */
async function nodeDir(name: string, fixture: string, file = 'config.json'): Promise<string> {
  const cbdir = join(dir, name, '.crossbar');
  await mkdir(cbdir, { recursive: true });
  const path = join(cbdir, file);
  if (file.endsWith('.yaml')) {
    await writeFile(path, stringify(JSON.parse(await readFile(join(FIXTURES, fixture), 'utf8'))));
  } else {
    await copyFile(join(FIXTURES, fixture), path);
  }
  return path;
}

/** The JSON log lines of a run at warning level: the setting each names. */
function warnedSettings(run: Run): string[] {
  return run
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; setting?: string })
    .filter((entry) => entry.level === 40 && entry.setting !== undefined)
    .map((entry) => entry.setting!);
}

async function stop(run: Run): Promise<void> {
  run.child.kill('SIGTERM');
  await within(run.exited, GUARD_MS, 'herald to exit');
}

const notAuthorized = (err: { error?: string }) => err.error === 'wamp.error.not_authorized';

describe('herald start from what crossbar init writes', () => {
  for (const file of ['config.json', 'config.yaml']) {
    test(`${file}: autobahn-js joins realm1 at /ws; what is left out is logged, each setting named`, async () => {
      const config = await nodeDir(`init-${file}`, 'crossbar-init.json', file);
      const { run, port } = await started(['--config', config]);
      try {
        const warned = warnedSettings(run);
        for (const setting of [
          'workers.0.transports.0',
          'workers.0.transports.1.paths./',
          'workers.0.transports.1.paths.info',
          'workers.0.transports.1.paths.ws.options.auto_ping_interval',
        ]) {
          assert.ok(warned.includes(setting), `${setting} not in the log: ${warned}`);
        }
        const url = `ws://127.0.0.1:${port}/ws`;
        const callee = await openAutobahn({ url, realm: 'realm1' });
        const caller = await openAutobahn({ url, realm: 'realm1' });
        assert.equal(caller.details.authrole, 'anonymous');
        await callee.session.register('com.example.add2', ([a, b]) => (a as number) + (b as number));
        assert.equal(await caller.session.call('com.example.add2', [20, 22]), 42);
        const event = new Promise<unknown[]>((resolve) => {
          void callee.session.subscribe('com.example.oncounter', (args) => resolve(args));
        });
        // Subscribed once the SUBSCRIBE is acknowledged: publish with acknowledge after a round trip.
        await caller.session.call('com.example.add2', [0, 0]);
        await caller.session.publish('com.example.oncounter', [1], {}, { acknowledge: true });
        assert.deepEqual(await within(event, GUARD_MS, 'the event'), [1]);
        // Crossbar checks URIs strictly by default, and so does the realm made from its file.
        await assert.rejects(
          caller.session.call('com.Example.add2', [1, 1]),
          (err: { error?: string }) => err.error === 'wamp.error.invalid_uri',
        );
        for (const c of [callee, caller]) await closeAutobahn(c.connection);
      } finally {
        await stop(run);
      }
    });
  }

  test('autobahn-python (Debian) joins and round-trips', { skip: autobahnPythonSkip() }, async () => {
    const config = await nodeDir('init-python', 'crossbar-init.json');
    const { run, port } = await started(['--config', config]);
    const python = new PythonClient('client.py', ['roundtrip', `ws://127.0.0.1:${port}/ws`, 'json']);
    try {
      assert.equal((await within(python.next('joined'), 10_000, 'join')).authrole, 'anonymous');
      assert.deepEqual(await within(python.next('call'), 5000, 'call'), { call: 5 });
      assert.deepEqual(await within(python.next('left'), 5000, 'leave'), {
        left: 'wamp.close.goodbye_and_out',
      });
    } finally {
      python.kill();
      await python.exited;
      await stop(run);
    }
  });
});

describe('herald start from a node configuration with roles and static WAMP-CRA users', () => {
  let run: Run;
  let url: string;
  const realm = 'com.example.shop';
  before(async () => {
    const config = await nodeDir('roles', 'crossbar-roles.json');
    const start = await started(['--config', config]);
    run = start.run;
    url = `ws://127.0.0.1:${start.port}/ws`;
  });
  after(() => stop(run));

  /** autobahn-js signing in as `authid` with `password`, the key derived when the challenge is salted. */
  const signIn = (authid: string, password: string) =>
    openAutobahn({
      url,
      realm,
      authmethods: ['wampcra'],
      authid,
      onchallenge: (_s, _m, extra) => {
        const key =
          extra.salt === undefined
            ? password
            : autobahn.auth_cra.derive_key(
                password,
                extra.salt as string,
                extra.iterations as number,
                extra.keylen as number,
              );
        return autobahn.auth_cra.sign(key, extra.challenge as string);
      },
    });

  test("users sign in, salted as Crossbar stores them or not; each role's permissions allow and deny", async () => {
    // peter's secret in the file is Crossbar's derived key: he signs in with the password it came from.
    const backend = await signIn('peter', 'secret1');
    assert.deepEqual([backend.details.authid, backend.details.authrole], ['peter', 'backend']);
    const frontend = await signIn('joe', 'secret2');
    assert.equal(frontend.details.authrole, 'frontend');
    try {
      await backend.session.register('com.example.shop.total', ([a, b]) => (a as number) + (b as number));
      assert.equal(await frontend.session.call('com.example.shop.total', [3, 4]), 7);
      // frontend may call and subscribe under com.example.shop., not register or publish, nor call elsewhere.
      await assert.rejects(
        frontend.session.register('com.example.shop.refund', () => 0),
        notAuthorized,
      );
      await assert.rejects(
        frontend.session.publish('com.example.shop.news', ['x'], {}, { acknowledge: true })!,
        notAuthorized,
      );
      await backend.session.register('com.example.admin.reset', () => 'done');
      await assert.rejects(frontend.session.call('com.example.admin.reset'), notAuthorized);
      assert.equal(await backend.session.call('com.example.admin.reset'), 'done');
    } finally {
      for (const c of [backend, frontend]) await closeAutobahn(c.connection);
    }
  });

  test('a wrong password, or anonymous where the file offers only WAMP-CRA, does not get in', async () => {
    await assert.rejects(signIn('peter', 'secret2'), /authentication_failed/);
    await assert.rejects(signIn('joe', 'secret1'), /authentication_failed/);
    await assert.rejects(openAutobahn({ url, realm }), /no_matching_auth_method/);
  });

  test('autobahn-python (Debian) signs in as the salted user and round-trips', {
    skip: autobahnPythonSkip(),
  }, async () => {
    const python = new PythonClient('client.py', ['roundtrip', url, 'msgpack'], {
      WAMP_REALM: realm,
      WAMP_AUTHID: 'peter',
      WAMP_PASSWORD: 'secret1',
    });
    try {
      assert.equal((await within(python.next('joined'), 10_000, 'join')).authrole, 'backend');
      assert.deepEqual(await within(python.next('call'), 5000, 'call'), { call: 5 });
      assert.deepEqual(await within(python.next('event'), 5000, 'event'), {
        event: [['hello', 1], { key: 'value' }],
      });
    } finally {
      python.kill();
      await python.exited;
    }
  });
});

/** A one-router node: realm1 open to anonymous, a WebSocket transport on 8080, and `extra` merged in. */
function router(extra: Record<string, unknown> = {}) {
  return {
    type: 'router',
    realms: [
      {
        name: 'realm1',
        roles: [
          {
            name: 'anonymous',
            permissions: [{ uri: '', match: 'prefix', allow: { call: true, subscribe: true } }],
          },
        ],
      },
    ],
    transports: [
      { type: 'web', endpoint: { type: 'tcp', port: 8080 }, paths: { ws: { type: 'websocket' } } },
    ],
    ...extra,
  };
}

describe('herald start refuses what it cannot honour, naming the key', () => {
  const dynamicAuth = {
    type: 'web',
    endpoint: { type: 'tcp', port: 8080 },
    paths: {
      ws: {
        type: 'websocket',
        auth: { wampcra: { type: 'dynamic', authenticator: 'com.example.authenticate' } },
      },
    },
  };
  const cases: [string, unknown[], string, RegExp][] = [
    [
      'a dynamic authenticator',
      [router({ transports: [dynamicAuth] })],
      'workers.0.transports.0.paths.ws.auth.wampcra',
      /dynamic authenticator/,
    ],
    [
      'a dynamic authorizer',
      [
        router({
          realms: [{ name: 'realm1', roles: [{ name: 'anonymous', authorizer: 'com.example.authorize' }] }],
        }),
      ],
      'workers.0.realms.0.roles.0.authorizer',
      /dynamic authorizer/,
    ],
    [
      'components',
      [
        router({
          components: [{ type: 'class', classname: 'shop.Backend', realm: 'realm1', role: 'anonymous' }],
        }),
      ],
      'workers.0.components',
      /WAMP clients of Herald/,
    ],
    [
      'a guest worker',
      [router(), { type: 'guest', executable: 'node', arguments: ['app.js'] }],
      'workers.1',
      /guest/,
    ],
    ['a container worker', [router(), { type: 'container', components: [] }], 'workers.1', /container/],
    ['a proxy worker', [router(), { type: 'proxy', routes: {}, connections: {} }], 'workers.1', /proxy/],
    [
      'router-to-router links',
      [router({ realms: [{ name: 'realm1', roles: [{ name: 'anonymous' }], rlinks: [{ id: 'r2' }] }] })],
      'workers.0.realms.0.rlinks',
      /router-to-router links/,
    ],
    [
      'an MQTT transport',
      [
        router({
          transports: [...router().transports, { type: 'mqtt', endpoint: { type: 'tcp', port: 1883 } }],
        }),
      ],
      'workers.0.transports.1',
      /MQTT/,
    ],
    [
      'RawSocket alone',
      [router({ transports: [{ type: 'rawsocket', endpoint: { type: 'tcp', port: 8081 } }] })],
      'workers',
      /no WebSocket transport/,
    ],
    [
      'a Unix socket endpoint',
      [router({ transports: [{ type: 'websocket', endpoint: { type: 'unix', path: 'router.sock' } }] })],
      'workers.0.transports.0.endpoint.type',
      /TCP only/,
    ],
    [
      'the HTTP bridge',
      [
        router({
          transports: [
            {
              type: 'web',
              endpoint: { type: 'tcp', port: 8080 },
              paths: {
                ws: { type: 'websocket' },
                publish: { type: 'publisher', realm: 'realm1', role: 'anonymous' },
              },
            },
          ],
        }),
      ],
      'workers.0.transports.0.paths.publish',
      /HTTP bridge/,
    ],
  ];
  for (const [what, workers, setting, reason] of cases) {
    test(`${what}: exit 2, ${setting} named with what to do`, async () => {
      const config = join(dir, `refused-${setting}-${Math.random().toString(36).slice(2)}.json`);
      await writeFile(config, JSON.stringify({ version: 2, controller: {}, workers }, null, 2));
      const run = await finished(['start', '--port', '0', '--config', config]);
      assert.equal(run.code, 2, run.stderr);
      const line = run.stderr.split('\n').find((l) => l.includes(`(Crossbar.io): ${setting}: `));
      assert.ok(line, `${setting} not named:\n${run.stderr}`);
      assert.match(line, reason);
      assert.doesNotMatch(run.stdout, /listening/);
      assert.doesNotMatch(run.stderr, /^\s+at /m, 'a stack trace');
    });
  }
});
