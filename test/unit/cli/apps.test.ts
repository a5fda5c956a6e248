import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { apps } from '../../../src/cli/apps.js';
import { WEBHOOK_EVENTS } from '../../../src/config/schema.js';

/** `herald apps` in this process, on the config store: what it prints and its exit code. */

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const code = await apps(argv, {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    env,
  });
  return { code, out, err };
}

const READ_ONLY =
  'herald apps: apps come from the config file, which is read-only: edit it and restart, or keep apps ' +
  'in PostgreSQL or MySQL (appStore.driver)\n';

let dir: string;
let config: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'herald-apps-'));
  config = join(dir, 'herald.yaml');
  await writeFile(
    config,
    [
      'apps:',
      '  - { id: "2", key: second-key, secret: second-secret, enabled: false }',
      '  - id: "1"',
      '    key: first-key',
      '    secret: first-secret',
      '    maxConnections: 100',
      '    webhooks: [{ url: "https://example.com/hook" }]',
      '',
    ].join('\n'),
  );
});
after(() => rm(dir, { recursive: true, force: true }));

describe('herald apps on the config store', () => {
  test("list: the config file's apps as a table, ordered by id", async () => {
    const { code, out, err } = await run(['list', '--config', config]);
    assert.equal(err, '');
    assert.equal(code, 0);
    assert.equal(
      out,
      [
        'id  key         enabled  maxConnections  webhooks',
        '1   first-key   yes      100             1',
        '2   second-key  no       unlimited       0',
        '',
      ].join('\n'),
    );
  });

  test('list --json: the array of apps, whole, on stdout only', async () => {
    const { code, out, err } = await run(['list', '--json', '--config', config]);
    assert.equal(code, 0);
    assert.equal(err, '');
    const listed = JSON.parse(out) as { id: string; secret: string; webhooks: unknown[] }[];
    assert.deepEqual(
      listed.map((a) => [a.id, a.secret]),
      [
        ['1', 'first-secret'],
        ['2', 'second-secret'],
      ],
    );
    // With the schema's defaults filled in, as a store holds them.
    assert.deepEqual(listed[0]!.webhooks, [
      { url: 'https://example.com/hook', events: [...WEBHOOK_EVENTS], headers: {} },
    ]);
  });

  test('the apps of the environment (HERALD_APPS) without --config, as herald start takes them', async () => {
    const env = { HERALD_APPS: JSON.stringify([{ id: 'env-app', key: 'env-key', secret: 's' }]) };
    const { code, out } = await run(['list'], env);
    assert.equal(code, 0);
    assert.match(out, /^env-app {2}env-key/m);
  });

  test('show: every field, the secret too; --json the app object', async () => {
    const shown = await run(['show', '1', '--config', config]);
    assert.equal(shown.code, 0);
    assert.match(shown.out, /^secret {2,}first-secret$/m);
    assert.match(shown.out, /^maxConnections {2,}100$/m);
    const json = await run(['show', '2', '--json', '--config', config]);
    assert.equal(json.code, 0);
    const app = JSON.parse(json.out) as { id: string; key: string; enabled: boolean };
    assert.deepEqual([app.id, app.key, app.enabled], ['2', 'second-key', false]);
  });

  test('show of an unknown app: exit 1, named with the store', async () => {
    const { code, out, err } = await run(['show', 'nope', '--json', '--config', config]);
    assert.deepEqual([code, out, err], [1, '', 'herald apps: no app with id nope in config file\n']);
  });

  test('every change is refused: the config store is read-only and says what to do', async () => {
    const changes = [
      ['create'],
      ['create', '--id', '9', '--set', 'maxConnections=5'],
      ['update', '1', '--set', 'maxConnections=5'],
      ['enable', '2'],
      ['disable', '1'],
      ['delete', '1'],
      ['rotate-secret', '1'],
      ['migrate'],
    ];
    for (const argv of changes) {
      const { code, out, err } = await run([...argv, '--config', config]);
      assert.deepEqual([code, out, err], [1, '', READ_ONLY], argv.join(' '));
    }
  });

  test('invalid fields are named one per line before the store is asked', async () => {
    const { code, err } = await run([
      'create',
      '--set',
      'maxConnections=-1',
      '--set',
      'clientEvents=yes',
      '--set',
      'colour=red',
      '--config',
      config,
    ]);
    assert.equal(code, 1);
    const lines = err.trimEnd().split('\n');
    assert.equal(lines[0], 'herald apps: invalid app:');
    assert.match(lines.find((l) => l.startsWith('  maxConnections: ')) ?? '', /Too small/);
    assert.match(lines.find((l) => l.startsWith('  clientEvents: ')) ?? '', /expected boolean/);
    assert.match(lines.find((l) => l.startsWith('  colour: ')) ?? '', /Unrecognized key/);
  });
});

describe('herald apps usage', () => {
  test('--help: the usage on stdout, exit 0; it names every command', async () => {
    const { code, out, err } = await run(['--help']);
    assert.equal(code, 0);
    assert.equal(err, '');
    for (const command of [
      'list',
      'show',
      'create',
      'update',
      'enable',
      'disable',
      'delete',
      'rotate-secret',
      'migrate',
    ]) {
      assert.match(out, new RegExp(`herald apps [^\\n]*\\b${command}\\b`));
    }
  });

  test('no command, an unknown one, a bad --grace: exit 2 with the reason and the usage on stderr', async () => {
    for (const [argv, reason] of [
      [[], 'a command is needed'],
      [['rename', '1'], 'unknown command "rename"'],
      [
        ['rotate-secret', '1', '--grace', 'soon'],
        '--grace takes a duration such as 10m, 90s, 2h or 0, not "soon"',
      ],
    ] as const) {
      const { code, out, err } = await run([...argv]);
      assert.equal(code, 2, argv.join(' '));
      assert.equal(out, '');
      assert.ok(err.startsWith(`herald apps: ${reason}\n\nUsage:\n`), err);
    }
  });

  test('a configuration with problems: exit 2 with every problem', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ appStore: { driver: 'oracle' } }));
    const { code, err } = await run(['list', '--config', bad]);
    assert.equal(code, 2);
    assert.match(err, /^herald apps: invalid configuration:\n {2}appStore\.driver: /);
    const env = await run(['list'], { HERALD_PORT: 'many' });
    assert.equal(env.code, 2);
    assert.match(env.err, /port: /);
  });

  test('remote mode: a server that does not answer is exit 1, said in one line', async () => {
    const port = await freePort();
    const token = 't'.repeat(32);
    const { code, out, err } = await run([
      'list',
      '--api-url',
      `http://127.0.0.1:${port}`,
      '--api-token',
      token,
    ]);
    assert.deepEqual(
      [code, out, err],
      [1, '', `herald apps: cannot reach Herald at http://127.0.0.1:${port}: ECONNREFUSED\n`],
    );
  });

  test('remote mode reads no config: an invalid one in the environment does not matter', async () => {
    const port = await freePort();
    const env = {
      HERALD_API_URL: `http://127.0.0.1:${port}`,
      HERALD_API_TOKEN: 'short',
      HERALD_PORT: 'many',
    };
    const { code, err } = await run(['show', '1'], env);
    assert.equal(code, 1);
    assert.match(err, /cannot reach Herald at/);
  });
});

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
