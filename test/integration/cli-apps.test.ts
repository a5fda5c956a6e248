import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SCHEMA_VERSION } from '../../src/apps/migrations.js';
import { apps } from '../../src/cli/apps.js';
import { freePort } from '../helpers/brokers.js';
import { finished, killRuns } from '../helpers/cli.js';
import {
  type DatabaseDriver,
  databaseSkip,
  databaseUrl,
  dropAppTable,
  storeEnv,
  uniqueTable,
} from '../helpers/databases.js';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';

/**
 * `herald apps` on PostgreSQL and MariaDB tables of its own, and through a running Herald's app
 * management API (`--api-url`). The real binary runs where its process matters (exit codes, the
 * environment it reads, what reaches stdout and stderr); the rest runs the same command in this
 * process, which spares a Node start per command.
 */

const TOKEN = 'cli-apps-test-token-0123456789abcdef0123';

after(() => killRuns());

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `herald apps <args>`, the binary, run to its end with `env` as its only `HERALD_*` variables. */
const binary = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
  finished(['apps', ...args], env);

/** `herald apps <args>` in this process, reading `env` as its environment. */
async function inProcess(args: string[], env: Record<string, string> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io = {
    out: (text: string) => {
      stdout += text;
    },
    err: (text: string) => {
      stderr += text;
    },
    env,
  };
  const code = await within(apps(args, io), 20_000, `herald apps ${args.join(' ')}`);
  return { code, stdout, stderr };
}

/** The JSON a successful `--json` run printed, with nothing on stderr. */
function json<T = Record<string, unknown>>(run: Run): T {
  assert.equal(run.stderr, '');
  assert.equal(run.code, 0, run.stdout);
  return JSON.parse(run.stdout) as T;
}

/** A refusal: exit 1, nothing on stdout, one line on stderr (what `message` matches). */
function refused(run: Run, message: RegExp): void {
  assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, message);
}

describe('herald apps --api-url, on a server whose apps come from its config file', () => {
  let server: TestHerald;
  let remote: string[];

  before(async () => {
    server = await startHerald({ api: { port: 0, token: TOKEN } });
    remote = ['--api-url', server.apiUrl!, '--api-token', TOKEN];
  });
  after(() => server?.stop());

  test("list and show print the server's apps", async () => {
    const listed = json<{ id: string }[]>(await binary(['list', '--json', ...remote]));
    assert.deepEqual(
      listed.map((a) => a.id),
      [APP.id],
    );
    const table = await binary(['list', ...remote]);
    assert.equal(table.code, 0);
    assert.match(table.stdout, /^app-id {2}app-key {2}yes {6}unlimited {7}0$/m);
    const shown = json(await inProcess(['show', APP.id, '--json', ...remote]));
    assert.equal(shown.secret, APP.secret);
  });

  test('HERALD_API_URL and HERALD_API_TOKEN do what the flags do', async () => {
    const run = await binary(['show', APP.id], { HERALD_API_URL: server.apiUrl!, HERALD_API_TOKEN: TOKEN });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^key {2,}app-key$/m);
  });

  test("a change is refused with the server's word that its store is read-only", async () => {
    refused(
      await inProcess(['disable', APP.id, ...remote]),
      /^herald apps: apps come from the config file, which is read-only: edit it and restart/,
    );
    refused(await inProcess(['create', '--json', ...remote]), /which is read-only/);
  });

  test('an unknown app, a wrong token, a listener without the API: exit 1, each said', async () => {
    refused(
      await inProcess(['show', 'nope', ...remote]),
      new RegExp(`^herald apps: no app with id nope in Herald at ${server.apiUrl}\\n$`),
    );
    refused(
      await inProcess(['list', '--api-url', server.apiUrl!, '--api-token', `${TOKEN}x`]),
      /refused the token \(401: .*\): give its api\.token with --api-token or HERALD_API_TOKEN\n$/,
    );
    refused(
      await inProcess(['list', '--api-url', server.httpUrl, '--api-token', TOKEN]),
      /has no app management API \(GET \/herald\/apps answered 404\)/,
    );
  });

  test('invalid fields come back one per line, as the server named them', async () => {
    const run = await inProcess(['create', '--set', 'maxConnections=0', '--set', 'colour=red', ...remote]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^herald apps: invalid app:\n {2}maxConnections: .*\n {2}colour: .*\n$/);
  });
});

const TEN_MINUTES = 600_000;
const GENERATED = { id: /^\d{7}$/, key: /^[0-9a-f]{20}$/, secret: /^[0-9a-f]{32}$/ };

interface StoredApp {
  id: string;
  key: string;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: string | null;
  enabled: boolean;
  maxConnections: number | null;
  clientEvents: boolean;
  webhooks: { url: string; events: string[] }[];
}

/**
 * The tables of one driver: each test takes a fresh one, migrated through `herald apps migrate`
 * unless it asks otherwise, and every one is dropped after the suite.
 */
function tables(driver: DatabaseDriver) {
  const made: string[] = [];
  after(async () => {
    for (const table of made) await dropAppTable(driver, table);
  });
  const envOf = (table: string): Record<string, string> => storeEnv(driver, table);
  return {
    envOf,
    /**
     * A table of its own: its name, the environment naming it, and `herald apps` run with both in
     * this process (`run`) and as the binary (`bin`).
     */
    async fresh(options: { migrated?: boolean } = {}) {
      const table = uniqueTable();
      made.push(table);
      const env = envOf(table);
      const run = (args: string[]) => inProcess(args, env);
      const bin = (args: string[]) => binary(args, env);
      if (options.migrated !== false) {
        const migrated = await run(['migrate']);
        assert.equal(migrated.code, 0, migrated.stderr);
      }
      return { table, env, run, bin, description: `${driver} table ${table}` };
    },
  };
}

for (const driver of ['postgres', 'mysql'] as const) {
  const skip = await databaseSkip(driver);

  describe(`herald apps on a ${driver} table`, { skip }, () => {
    const { fresh, envOf } = tables(driver);

    test('migrate creates the table and says from which version; again, it changes nothing', async () => {
      const { table, run, bin } = await fresh({ migrated: false });
      refused(
        await bin(['list']),
        new RegExp(`^herald apps: table ${table} is not migrated .*: run \`herald apps migrate\`\n$`),
      );
      const first = await bin(['migrate']);
      assert.deepEqual([first.code, first.stderr], [0, '']);
      assert.equal(first.stdout, `table ${table} at version ${SCHEMA_VERSION} (was 0)\n`);
      assert.deepEqual(json(await run(['migrate', '--json'])), {
        table,
        from: SCHEMA_VERSION,
        to: SCHEMA_VERSION,
      });
      assert.deepEqual(json(await run(['list', '--json'])), []);
      const empty = await run(['list']);
      assert.equal(empty.stdout, `no apps in ${driver} table ${table}\n`);
    });

    test('create generates the credentials not given and prints them', async () => {
      const { run, bin, description } = await fresh();
      const printed = await bin(['create']);
      assert.equal(printed.code, 0, printed.stderr);
      const [first, ...details] = printed.stdout.trimEnd().split('\n');
      assert.match(first!, new RegExp(`^created app \\d{7} in ${description}:$`));
      const field = (name: string) => details.find((l) => l.startsWith(`${name} `))?.split(/ +/)[1];
      assert.match(field('key') ?? '', GENERATED.key);
      assert.match(field('secret') ?? '', GENERATED.secret);

      const app = json<StoredApp>(await run(['create', '--json']));
      assert.match(app.id, GENERATED.id);
      assert.match(app.key, GENERATED.key);
      assert.match(app.secret, GENERATED.secret);
      assert.deepEqual([app.enabled, app.previousSecret, app.maxConnections], [true, null, null]);
      assert.deepEqual(json(await run(['show', app.id, '--json'])), app);
    });

    test('create with given credentials and --set fields; a taken id or key is refused', async () => {
      const { run } = await fresh();
      const app = json<StoredApp>(
        await run([
          'create',
          '--id',
          'shop',
          '--key',
          'shop-key',
          '--secret',
          'shop-secret',
          '--set',
          'maxConnections=100',
          '--set',
          'clientEvents=true',
          '--set',
          'webhooks=[{"url":"https://x.example.com/hook","events":["member_added"]}]',
          '--json',
        ]),
      );
      assert.deepEqual(
        [app.id, app.key, app.secret, app.maxConnections, app.clientEvents],
        ['shop', 'shop-key', 'shop-secret', 100, true],
      );
      assert.deepEqual(
        app.webhooks.map((w) => [w.url, w.events]),
        [['https://x.example.com/hook', ['member_added']]],
      );
      refused(await run(['create', '--id', 'shop']), /^herald apps: an app with id "shop" exists already\n$/);
      refused(
        await run(['create', '--key', 'shop-key']),
        /^herald apps: an app with key "shop-key" exists already\n$/,
      );
      refused(
        await run(['create', '--set', 'maxConnections=many', '--set', 'webhooks=[{"url":"ftp://x"}]']),
        /^herald apps: invalid app:\n {2}maxConnections: .*\n {2}webhooks\.0\.url: .*\n$/,
      );
      assert.equal(json<StoredApp[]>(await run(['list', '--json'])).length, 1);
    });

    test('list and show, as tables for people and as JSON', async () => {
      const { run } = await fresh();
      json(await run(['create', '--id', 'b', '--key', 'key-b', '--set', 'enabled=false', '--json']));
      json(
        await run([
          'create',
          '--id',
          'a',
          '--key',
          'key-a',
          '--set',
          'maxConnections=7',
          '--set',
          'webhooks=[{"url":"https://h"}]',
          '--json',
        ]),
      );

      const table = await run(['list']);
      assert.equal(table.code, 0);
      assert.equal(
        table.stdout,
        [
          'id  key    enabled  maxConnections  webhooks',
          'a   key-a  yes      7               1',
          'b   key-b  no       unlimited       0',
          '',
        ].join('\n'),
      );
      const listed = json<StoredApp[]>(await run(['list', '--json']));
      assert.deepEqual(
        listed.map((a) => [a.id, a.enabled]),
        [
          ['a', true],
          ['b', false],
        ],
      );
      const shown = await run(['show', 'a']);
      assert.match(shown.stdout, new RegExp(`^secret {2,}${listed[0]!.secret}$`, 'm'));
      assert.match(shown.stdout, /^maxConnections {2,}7$/m);
      assert.deepEqual(json(await run(['show', 'a', '--json'])), listed[0]);
    });

    test('update changes the fields given and keeps the others; invalid fields change nothing', async () => {
      const { run } = await fresh();
      const before = json<StoredApp>(
        await run(['create', '--id', 'u', '--set', 'clientEvents=true', '--json']),
      );
      const printed = await run(['update', 'u', '--set', 'maxConnections=50', '--set', 'key=new-key']);
      assert.equal(printed.code, 0, printed.stderr);
      assert.match(printed.stdout, /^updated maxConnections, key of app u:\n/);
      const after = json<StoredApp>(await run(['show', 'u', '--json']));
      assert.deepEqual(after, { ...before, maxConnections: 50, key: 'new-key' });

      refused(
        await run(['update', 'u', '--set', 'maxConnections=0']),
        /^herald apps: invalid app:\n {2}maxConnections: /,
      );
      refused(
        await run(['update', 'u', '--set', 'id=other']),
        /^herald apps: invalid app:\n {2}id: an app keeps its id\n$/,
      );
      json(await run(['create', '--id', 'v', '--key', 'v-key', '--json']));
      refused(
        await run(['update', 'u', '--set', 'key=v-key']),
        /^herald apps: an app with key "v-key" exists already\n$/,
      );
      assert.deepEqual(json(await run(['show', 'u', '--json'])), after);
    });

    test('disable and enable', async () => {
      const { run } = await fresh();
      json(await run(['create', '--id', 'd', '--json']));
      const off = await run(['disable', 'd']);
      assert.deepEqual([off.code, off.stdout, off.stderr], [0, 'app d disabled\n', '']);
      assert.equal(json<StoredApp>(await run(['show', 'd', '--json'])).enabled, false);
      assert.equal(json<StoredApp>(await run(['enable', 'd', '--json'])).enabled, true);
      assert.equal(json<StoredApp>(await run(['show', 'd', '--json'])).enabled, true);
    });

    test('rotate-secret keeps the old secret for 10 minutes by default; --grace 0 keeps none', async () => {
      const { run } = await fresh();
      const created = json<StoredApp>(await run(['create', '--id', 'r', '--json']));
      const start = Date.now();
      const rotated = json<StoredApp>(await run(['rotate-secret', 'r', '--json']));
      const end = Date.now();
      assert.match(rotated.secret, GENERATED.secret);
      assert.notEqual(rotated.secret, created.secret);
      assert.equal(rotated.previousSecret, created.secret);
      const expires = Date.parse(rotated.previousSecretExpiresAt ?? '');
      assert.ok(
        expires >= start + TEN_MINUTES - 1000 && expires <= end + TEN_MINUTES + 1000,
        `${rotated.previousSecretExpiresAt} is not 10 minutes after ${new Date(start).toISOString()}`,
      );
      assert.deepEqual(json(await run(['show', 'r', '--json'])), rotated);

      const printed = await run(['rotate-secret', 'r', '--grace', '90s']);
      assert.equal(printed.code, 0, printed.stderr);
      const [secretLine, untilLine] = printed.stdout.trimEnd().split('\n');
      const shown = json<StoredApp>(await run(['show', 'r', '--json']));
      assert.equal(secretLine, `new secret of app r: ${shown.secret}`);
      assert.equal(untilLine, `the old secret is accepted until ${shown.previousSecretExpiresAt}`);
      assert.equal(shown.previousSecret, rotated.secret);

      const none = await run(['rotate-secret', 'r', '--grace', '0']);
      assert.match(none.stdout, /\nthe old secret is no longer accepted\n$/);
      const after = json<StoredApp>(await run(['show', 'r', '--json']));
      assert.deepEqual([after.previousSecret, after.previousSecretExpiresAt], [null, null]);
    });

    test('delete; an unknown app is exit 1 naming the table, for every command', async () => {
      const { run, description } = await fresh();
      json(await run(['create', '--id', 'gone', '--json']));
      const deleted = await run(['delete', 'gone']);
      assert.deepEqual([deleted.code, deleted.stdout], [0, `deleted app gone from ${description}\n`]);
      const missing = new RegExp(`^herald apps: no app with id gone in ${description}\n$`);
      for (const argv of [
        ['show', 'gone'],
        ['update', 'gone', '--set', 'maxConnections=5'],
        ['enable', 'gone'],
        ['disable', 'gone'],
        ['rotate-secret', 'gone'],
        ['delete', 'gone', '--json'],
      ]) {
        refused(await run(argv), missing);
      }
      assert.deepEqual(json(await run(['list', '--json'])), []);
    });

    test('a database that cannot be reached: exit 1 saying so; bad usage: exit 2', async () => {
      const { table } = await fresh({ migrated: false });
      const url = databaseUrl(driver).replace(/:\d+\//, `:${await freePort()}/`);
      const env = { ...envOf(table), HERALD_APP_STORE_URL: url };
      refused(
        await binary(['list'], env),
        /^herald apps: (PostgreSQL|MySQL) at 127\.0\.0\.1:\d+ refused the connection \(ECONNREFUSED\)/,
      );
      refused(await inProcess(['migrate'], env), /refused the connection/);
      const usage = await binary(['update', 'x'], env);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /^herald apps: update needs at least one --set FIELD=VALUE\n\nUsage:/);
    });
  });

  describe(`herald apps --api-url, on a server whose apps are in a ${driver} table`, { skip }, () => {
    const { fresh } = tables(driver);
    let server: TestHerald;
    let remote: (args: string[]) => Promise<Run>;
    let remoteBinary: (args: string[]) => Promise<Run>;
    let direct: (args: string[]) => Promise<Run>;
    let description: string;

    before(async () => {
      const made = await fresh();
      direct = made.run;
      server = await startHerald({
        api: { port: 0, token: TOKEN },
        appStore: { driver, url: databaseUrl(driver), table: made.table },
      });
      description = `Herald at ${server.apiUrl}`;
      remote = (args) => inProcess([...args, '--api-url', server.apiUrl!, '--api-token', TOKEN]);
      remoteBinary = (args) => binary(args, { HERALD_API_URL: server.apiUrl!, HERALD_API_TOKEN: TOKEN });
    });
    after(() => server?.stop());

    test('every command through the server; the table holds what it did', async () => {
      const created = json<StoredApp>(await remoteBinary(['create', '--set', 'maxConnections=10', '--json']));
      assert.match(created.id, GENERATED.id);
      assert.match(created.key, GENERATED.key);
      assert.match(created.secret, GENERATED.secret);
      assert.deepEqual(json(await direct(['show', created.id, '--json'])), created);

      const listed = await remote(['list']);
      assert.match(listed.stdout, new RegExp(`^${created.id} {2}${created.key} {2}yes {6}10 {14}0$`, 'm'));
      assert.deepEqual(json(await remote(['show', created.id, '--json'])), created);

      const updated = json<StoredApp>(
        await remote(['update', created.id, '--set', 'maxConnections=null', '--json']),
      );
      assert.equal(updated.maxConnections, null);
      assert.equal((await remote(['disable', created.id])).stdout, `app ${created.id} disabled\n`);
      assert.equal(json<StoredApp>(await direct(['show', created.id, '--json'])).enabled, false);
      assert.equal(json<StoredApp>(await remote(['enable', created.id, '--json'])).enabled, true);

      const start = Date.now();
      const rotated = json<StoredApp>(await remote(['rotate-secret', created.id, '--json']));
      assert.equal(rotated.previousSecret, created.secret);
      const expires = Date.parse(rotated.previousSecretExpiresAt ?? '');
      assert.ok(expires >= start + TEN_MINUTES - 1000 && expires <= Date.now() + TEN_MINUTES + 1000);
      const ended = json<StoredApp>(await remote(['rotate-secret', created.id, '--grace', '0', '--json']));
      assert.deepEqual([ended.previousSecret, ended.previousSecretExpiresAt], [null, null]);

      const deleted = await remote(['delete', created.id]);
      assert.deepEqual(
        [deleted.code, deleted.stdout],
        [0, `deleted app ${created.id} from ${description}\n`],
      );
      refused(await direct(['show', created.id]), /no app with id/);
    });

    test('the server serves an app created through it at once', async () => {
      const created = json<StoredApp>(await remote(['create', '--json']));
      const { client } = await within(
        RawClient.connect(server.wsUrl(created.key)),
        10_000,
        'the new app to connect',
      );
      client.close();
    });

    test(`disabling an app closes its connections (4003): through the server${driver === 'postgres' ? ', and directly in the table' : ''}`, async () => {
      const created = json<StoredApp>(await remote(['create', '--json']));
      const connect = async () =>
        (await within(RawClient.connect(server.wsUrl(created.key)), 10_000, 'the app to connect')).client;
      let client = await connect();
      assert.equal((await remote(['disable', created.id])).code, 0);
      assert.equal((await within(client.closed, 10_000, 'the close after disable')).code, 4003);
      if (driver !== 'postgres') return;
      // PostgreSQL tells every node of a change to the table, whoever made it (docs/apps.md).
      assert.equal((await remote(['enable', created.id])).code, 0);
      client = await connect();
      assert.equal((await direct(['disable', created.id])).code, 0);
      assert.equal((await within(client.closed, 10_000, 'the close after a direct disable')).code, 4003);
    });

    test('conflicts, invalid fields and unknown apps are refused as in direct mode', async () => {
      json(await remote(['create', '--id', 'taken', '--key', 'taken-key', '--json']));
      refused(
        await remote(['create', '--id', 'taken']),
        /^herald apps: an app with id "taken" exists already\n$/,
      );
      refused(
        await remote(['create', '--key', 'taken-key']),
        /^herald apps: an app with key "taken-key" exists already\n$/,
      );
      refused(
        await remote(['update', 'taken', '--set', 'maxConnections=-1', '--set', 'colour=red']),
        /^herald apps: invalid app:\n {2}maxConnections: .*\n {2}colour: .*\n$/,
      );
      const missing = new RegExp(`^herald apps: no app with id nope in ${description}\n$`);
      for (const argv of [
        ['show', 'nope'],
        ['update', 'nope', '--set', 'enabled=false'],
        ['disable', 'nope'],
        ['rotate-secret', 'nope'],
        ['delete', 'nope'],
      ]) {
        refused(await remote(argv), missing);
      }
    });
  });
}
