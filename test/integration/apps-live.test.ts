import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { openAppCatalog } from '../../src/apps/open.js';
import { parseConfig } from '../../src/config/load.js';
import type { App } from '../../src/core/apps/app.js';
import { Herald } from '../../src/server.js';
import { brokerSkip, deleteRedisPrefix, REDIS_URL, uniquePrefix } from '../helpers/brokers.js';
import { finished } from '../helpers/cli.js';
import { GUARD_MS, Node, stopAll } from '../helpers/cluster-node.js';
import {
  databaseSkip,
  databaseUrl,
  dropAppTable,
  migrate,
  POSTGRES_URL,
  sql,
  storeEnv,
  uniqueTable,
} from '../helpers/databases.js';
import {
  connected,
  nextEvent,
  pusherClient,
  pusherSdk,
  startHerald,
  type TestHerald,
} from '../helpers/herald.js';
import type { Pusher } from '../helpers/pusher-js.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * Apps kept in a database and changed while clients are connected (docs/apps.md): created with
 * `herald apps`, used by pusher-js and the pusher SDK, disabled, deleted, limited and given a new
 * secret live, on every node of a cluster; and the database going away and coming back.
 */

const TOKEN = 'live-test-token-0123456789abcdef0123456789';

/** Runs `herald apps …` against the table; its JSON output. */
async function apps(env: Record<string, string>, ...args: string[]): Promise<App> {
  const run = await finished(['apps', ...args, '--json'], env);
  assert.equal(run.code, 0, `herald apps ${args.join(' ')}: ${run.stderr}`);
  return JSON.parse(run.stdout) as App;
}

/** Resolves with the code and message of the `pusher:error` pusher-js reports. */
function refusal(client: Pusher): Promise<{ code: number; message: string }> {
  return new Promise((resolve) => {
    client.connection.bind('error', (e: { type?: string; data?: { code: number; message: string } }) => {
      if (e.type === 'PusherError' && e.data) resolve(e.data);
    });
  });
}

/** Every pusher-js client of this file, disconnected at the end whatever happened. */
const everyClient: Pusher[] = [];
after(() => {
  for (const client of everyClient) client.disconnect();
});

/** A pusher-js client of `port` with `key`, connected and subscribed to `channel`. */
async function subscribed(port: number, key: string, channel = 'news') {
  const client = pusherClient(port, key);
  everyClient.push(client);
  await within(connected(client), GUARD_MS, `pusher-js to connect on port ${port}`);
  const subscription = client.subscribe(channel);
  await within(nextEvent(subscription, 'pusher:subscription_succeeded'), GUARD_MS, 'the subscription');
  return { client, channel: subscription };
}

/**
 * Opens raw connections with `key` until one is refused with `code` (a change reaches a node a moment
 * after the command that made it has exited), closing the ones welcomed meanwhile.
 */
async function refusedAt(port: number, key: string, code: number): Promise<void> {
  for (;;) {
    const frame = await firstFrame(port, key);
    if (frame.event === 'pusher:connection_established') continue;
    assert.equal(frame.event, 'pusher:error');
    assert.equal((frame.data as { code: number }).code, code, JSON.stringify(frame.data));
    return;
  }
}

/** Opens raw connections with `key` until one is welcomed, the ones before refused with `code`. */
async function welcomedAt(port: number, key: string, code: number): Promise<void> {
  for (;;) {
    const frame = await firstFrame(port, key);
    if (frame.event === 'pusher:connection_established') return;
    assert.equal((frame.data as { code: number }).code, code, JSON.stringify(frame.data));
  }
}

/** The first frame a raw connection with `key` gets: the refusal or the welcome. */
async function firstFrame(port: number, key: string) {
  const raw = await RawClient.open(`ws://127.0.0.1:${port}/app/${key}?protocol=7&client=js&version=8.4.0`);
  try {
    return await within(raw.next(), GUARD_MS, `the first frame for key ${key}`);
  } finally {
    raw.close();
  }
}

/** Resolves once `node` has seen `count` other nodes come up. */
function peers(node: Node, count: number) {
  let seen = 0;
  return node.log((r) => r.msg === 'node up' && ++seen === count, `to see ${count} peers`);
}

const skipCluster = (await databaseSkip('postgres')) || (await brokerSkip('redis'));

describe('apps in PostgreSQL on three nodes over Redis', { skip: skipCluster }, () => {
  const table = uniqueTable();
  const prefix = uniquePrefix('apps-live');
  const env = storeEnv('postgres', table);
  let nodes: Node[] = [];
  let app: App;

  const client = async (node: Node, key = app.key) => {
    return subscribed(node.port, key);
  };

  before(async () => {
    await migrate(env);
    const nodeEnv = {
      ...env,
      HERALD_LOG_LEVEL: 'info',
      HERALD_ADAPTER_DRIVER: 'redis',
      HERALD_ADAPTER_URL: REDIS_URL,
      HERALD_ADAPTER_PREFIX: prefix,
    };
    for (const name of ['node1', 'node2', 'node3']) nodes.push(await Node.start(name, [], nodeEnv));
    await Promise.all(nodes.map((n) => peers(n, 2)));
  });

  after(async () => {
    for (const c of everyClient) c.disconnect();
    await stopAll(nodes);
    nodes = [];
    await dropAppTable('postgres', table);
    await deleteRedisPrefix(prefix);
  });

  test('an app created with herald apps: pusher-js connects with its key on every node, the pusher SDK triggers with its secret', async () => {
    app = await apps(env, 'create', '--set', 'clientEvents=true');
    const subscribers = await Promise.all(nodes.map((n) => client(n)));
    const received = subscribers.map((s) => nextEvent<{ n: number }>(s.channel, 'headline'));
    const response = await pusherSdk(nodes[1]!.port, app).trigger('news', 'headline', { n: 1 });
    assert.equal(response.status, 200);
    assert.deepEqual(await within(Promise.all(received), GUARD_MS, 'the event on every node'), [
      { n: 1 },
      { n: 1 },
      { n: 1 },
    ]);
  });

  test('a lowered maxConnections holds for new connections; the open ones stay', async () => {
    const open3 = await Promise.all(nodes.map((n) => client(n)));
    // Six connections of the app are open across the cluster now; five is below that.
    try {
      await apps(env, 'update', app.id, '--set', 'maxConnections=5');
      await within(refusedAt(nodes[2]!.port, app.key, 4004), GUARD_MS, 'a connection over the quota refused');
      assert.ok(open3.every((s) => s.client.connection.state === 'connected'));
    } finally {
      await apps(env, 'update', app.id, '--set', 'maxConnections=null');
    }
    await within(welcomedAt(nodes[2]!.port, app.key, 4004), GUARD_MS, 'the quota lifted');
    for (const s of open3) s.client.disconnect();
  });

  test('disabled with herald apps: every node closes its connections with 4003 and refuses new ones, until enabled', async () => {
    const open3 = await Promise.all(nodes.map((n) => client(n)));
    const refusals = open3.map((s) => refusal(s.client));
    await apps(env, 'disable', app.id);
    const codes = await within(Promise.all(refusals), GUARD_MS, 'the refusals on every node');
    assert.deepEqual(
      codes.map((r) => [r.code, r.message]),
      Array(3).fill([4003, 'Application disabled']),
    );
    for (const node of nodes) {
      const frame = await firstFrame(node.port, app.key);
      assert.equal(frame.event, 'pusher:error');
      assert.equal((frame.data as { code: number }).code, 4003, node.name);
    }
    await apps(env, 'enable', app.id);
    for (const node of nodes)
      await within(welcomedAt(node.port, app.key, 4003), GUARD_MS, `${node.name} enabled`);
  });

  test('deleted through one node’s management API: every node closes with 4003, then the key is unknown (4001)', async () => {
    // A fourth node with the admin listener and the token, which the others hear from over Redis.
    const admin = await Node.start('node4', ['--api-port', '0'], {
      ...env,
      HERALD_LOG_LEVEL: 'info',
      HERALD_ADAPTER_DRIVER: 'redis',
      HERALD_ADAPTER_URL: REDIS_URL,
      HERALD_ADAPTER_PREFIX: prefix,
      HERALD_API_TOKEN: TOKEN,
    });
    nodes.push(admin);
    const listening = await admin.log((r) => /^admin listener/.test(r.msg), 'the admin listener');
    const apiUrl = `http://127.0.0.1:${listening.port as number}`;
    await Promise.all([peers(admin, 3), ...nodes.slice(0, 3).map((n) => peers(n, 3))]);
    const open4 = await Promise.all(nodes.map((n) => client(n)));
    const refusals = open4.map((s) => refusal(s.client));
    const deleted = await finished(['apps', 'delete', app.id, '--api-url', apiUrl, '--api-token', TOKEN]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const codes = await within(Promise.all(refusals), GUARD_MS, 'the refusals on every node');
    assert.deepEqual(
      codes.map((r) => [r.code, r.message]),
      Array(4).fill([4003, 'Application deleted']),
    );
    const frame = await firstFrame(nodes[0]!.port, app.key);
    assert.equal((frame.data as { code: number }).code, 4001);
  });
});

describe('apps in MySQL, which has no change feed', { skip: await databaseSkip('mysql') }, () => {
  const table = uniqueTable();
  const env = storeEnv('mysql', table);
  let server: TestHerald;

  before(async () => {
    await migrate(env);
    server = await startHerald({
      api: { port: 0, token: TOKEN },
      appStore: { driver: 'mysql', url: databaseUrl('mysql'), table, cacheTtlMs: 1000, missTtlMs: 1000 },
    });
  });

  after(async () => {
    await server?.stop();
    await dropAppTable('mysql', table);
  });

  test('an app disabled in the table by hand is closed with 4003 within the cache TTL', async () => {
    const app = await apps(env, 'create');
    const { client } = await subscribed(server.port, app.key);
    const refused = refusal(client);
    await sql('mysql', `UPDATE \`${table}\` SET enabled = 0 WHERE id = ?`, [app.id]);
    assert.equal((await within(refused, GUARD_MS, 'the refusal')).code, 4003);
    client.disconnect();
  });

  test('a new app is found once the key’s miss has expired, and a change through the API at once', async () => {
    assert.equal((await firstFrame(server.port, 'made-later')).event, 'pusher:error');
    const app = await apps(env, 'create', '--key', 'made-later');
    // The miss is remembered for missTtlMs (1 s here): asked again until found.
    for (;;) {
      const frame = await firstFrame(server.port, app.key);
      if (frame.event === 'pusher:connection_established') break;
      assert.equal((frame.data as { code: number }).code, 4001);
    }
    const { client } = await subscribed(server.port, app.key);
    const refused = refusal(client);
    const disabled = await finished([
      'apps',
      'disable',
      app.id,
      '--api-url',
      server.apiUrl!,
      '--api-token',
      TOKEN,
    ]);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.equal((await within(refused, GUARD_MS, 'the refusal')).code, 4003);
    client.disconnect();
  });
});

describe('a flood of connections with random keys', { skip: await databaseSkip('postgres') }, () => {
  const table = uniqueTable();
  const env = storeEnv('postgres', table);
  let server: TestHerald;

  before(async () => {
    await migrate(env);
    server = await startHerald({
      appStore: { driver: 'postgres', url: POSTGRES_URL, table, lookupsPerSecond: 20 },
    });
  });

  after(async () => {
    await server?.stop();
    await dropAppTable('postgres', table);
  });

  test('reaches the database at the lookup rate at most: the rest is told to back off (4100), and a known app still connects', async () => {
    const app = await apps(env, 'create');
    // Looked up once, cached from then on.
    assert.equal((await firstFrame(server.port, app.key)).event, 'pusher:connection_established');
    const started = Date.now();
    const codes = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const frame = await firstFrame(server.port, `random-${i}-${Math.random()}`);
        return (frame.data as { code: number }).code;
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const asked = codes.filter((c) => c === 4001).length;
    const refused = codes.filter((c) => c === 4100).length;
    assert.equal(asked + refused, 300, JSON.stringify(codes));
    // A burst of twice the rate, then the rate (the first lookup above took one).
    assert.ok(asked <= 40 + Math.ceil(20 * seconds), `${asked} lookups in ${seconds} s`);
    assert.ok(refused > 0);
    assert.equal((await firstFrame(server.port, app.key)).event, 'pusher:connection_established');
  });
});

describe('a secret rotated with requests in flight', { skip: await databaseSkip('postgres') }, () => {
  const table = uniqueTable();
  const env = storeEnv('postgres', table);
  let server: TestHerald;

  before(async () => {
    await migrate(env);
    server = await startHerald({ appStore: { driver: 'postgres', url: POSTGRES_URL, table } });
  });

  after(async () => {
    await server?.stop();
    await dropAppTable('postgres', table);
  });

  test('herald trigger and herald doctor take the app from their flags, which they then need', async () => {
    const app = await apps(env, 'create');
    const { client, channel } = await subscribed(server.port, app.key);
    const event = nextEvent<{ from: string }>(channel, 'greeting');
    const flags = [
      '--url',
      server.httpUrl,
      '--app-id',
      app.id,
      '--app-key',
      app.key,
      '--app-secret',
      app.secret,
    ];
    const triggered = await finished(['trigger', 'news', 'greeting', '{"from":"cli"}', ...flags], env);
    assert.equal(triggered.code, 0, triggered.stderr);
    assert.deepEqual(await within(event, GUARD_MS, 'the event'), { from: 'cli' });
    const checked = await finished(['doctor', ...flags], env);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.match(checked.stdout, new RegExp(`app ${app.id}`));
    for (const command of [['trigger', 'news', 'greeting', '{}'], ['doctor']]) {
      const refused = await finished([...command, '--url', server.httpUrl], env);
      assert.equal(refused.code, 2, command[0]);
      assert.match(refused.stderr, /with appStore.driver "postgres", name the app .*--app-id/, command[0]);
    }
    client.disconnect();
  });

  test('no request fails across the rotation; the old secret stops with its grace', async () => {
    const app = await apps(env, 'create');
    const { client, channel } = await subscribed(server.port, app.key);
    let received = 0;
    channel.bind('tick', () => received++);
    const old = server.sdk(app);
    let rotating = true;
    let sent = 0;
    const failures: number[] = [];
    // Four senders with the old secret, one request after another each, until the rotation is done.
    const senders = Array.from({ length: 4 }, async () => {
      while (rotating) {
        const response = await old
          .trigger('news', 'tick', { n: sent++ })
          .catch((e: { status?: number }) => e);
        if (response.status !== 200) failures.push(response.status ?? -1);
      }
    });
    const rotated = await apps(env, 'rotate-secret', app.id, '--grace', '10m');
    // Past the change reaching the server (its notification), the old secret still signs.
    const fresh = server.sdk(rotated);
    for (;;) {
      const response = await fresh.trigger('news', 'tick', { n: -1 }).catch((e: { status?: number }) => e);
      if (response.status === 200) break;
      assert.equal(response.status, 401);
    }
    rotating = false;
    await Promise.all(senders);
    assert.deepEqual(failures, [], 'every request signed with the old secret succeeded');
    assert.ok(sent > 0);
    assert.equal(rotated.previousSecret, app.secret);
    assert.notEqual(rotated.secret, app.secret);

    // Without a grace period the secret before stops at once (once the change has reached the server).
    const again = await apps(env, 'rotate-secret', rotated.id, '--grace', '0');
    const before = server.sdk(rotated);
    for (;;) {
      const response = await before.trigger('news', 'tick', { n: -2 }).catch((e: { status?: number }) => e);
      if (response.status === 401) break;
      assert.equal(response.status, 200);
    }
    assert.equal((await server.sdk(again).trigger('news', 'tick', { n: -3 })).status, 200);
    assert.ok(received > 0);
    client.disconnect();
  });
});

describe('the database going away and coming back', { skip: await databaseSkip('postgres') }, () => {
  const table = uniqueTable();
  const env = storeEnv('postgres', table);
  const records: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => records.push(JSON.parse(line)) });
  let proxy: TcpProxy;
  let server: TestHerald;

  before(async () => {
    await migrate(env);
    proxy = await TcpProxy.start(POSTGRES_URL, 5432);
    server = await startHerald(
      { appStore: { driver: 'postgres', url: proxy.url(POSTGRES_URL), table, missTtlMs: 100 } },
      { logger },
    );
  });

  after(async () => {
    await server?.stop();
    await proxy?.up();
    await proxy?.down();
    await dropAppTable('postgres', table);
  });

  test('connected clients and cached apps keep working; others get 4100 and 503; Herald recovers by itself', async () => {
    const cached = await apps(env, 'create');
    const uncached = await apps(env, 'create');
    const { client, channel } = await subscribed(server.port, cached.key);

    await proxy.down();
    // The connected client still gets events, published with its app (cached) through the HTTP API.
    const event = nextEvent<{ n: number }>(channel, 'during');
    assert.equal((await server.sdk(cached).trigger('news', 'during', { n: 1 })).status, 200);
    assert.deepEqual(await within(event, GUARD_MS, 'the event during the outage'), { n: 1 });
    // A new connection of the cached app is served too.
    assert.equal((await firstFrame(server.port, cached.key)).event, 'pusher:connection_established');
    // An app this node has not looked up cannot be: 4100 (back off, reconnect) and 503.
    const refused = await firstFrame(server.port, uncached.key);
    assert.equal(refused.event, 'pusher:error');
    assert.deepEqual(refused.data, { code: 4100, message: 'App lookup unavailable, try again' });
    // The SDK rejects an answer that is not a success, with its status and body.
    const failed = (await server
      .sdk(uncached)
      .get({ path: '/channels' })
      .then(
        () => assert.fail('the HTTP API answered an app it could not look up'),
        (err: { status: number; body: string }) => err,
      )) as { status: number; body: string };
    assert.equal(failed.status, 503);
    assert.match((JSON.parse(failed.body) as { error: string }).error, /cannot be looked up now/);
    const down = records.filter((r) => /^app store unavailable/.test(r.msg));
    assert.equal(down.length, 1, 'the outage is said once');
    assert.equal(down[0]!.level, 50);

    await proxy.up();
    for (;;) {
      const frame = await firstFrame(server.port, uncached.key);
      if (frame.event === 'pusher:connection_established') break;
      assert.deepEqual(frame.data, { code: 4100, message: 'App lookup unavailable, try again' });
    }
    assert.equal((await server.sdk(uncached).get({ path: '/channels' })).status, 200);
    assert.ok(records.some((r) => r.msg === 'app store answering again'));
    assert.equal(client.connection.state, 'connected');
    client.disconnect();
  });
});

describe('a node that starts loads the apps of a small table', {
  skip: await databaseSkip('postgres'),
}, () => {
  const table = uniqueTable();
  const env = storeEnv('postgres', table);

  after(() => dropAppTable('postgres', table));

  test('with at most appStore.preload apps, each is served without a lookup, the database away; with more, none is loaded', async () => {
    await migrate(env);
    const made = [await apps(env, 'create'), await apps(env, 'create')];
    const proxy = await TcpProxy.start(POSTGRES_URL, 5432);
    const records: { msg: string; apps?: number }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => records.push(JSON.parse(line)) });
    const start = (preload: number) =>
      startHerald(
        { appStore: { driver: 'postgres', url: proxy.url(POSTGRES_URL), table, preload } },
        { logger },
      );
    let server = await start(2);
    try {
      assert.equal(records.find((r) => r.msg === 'apps loaded into the cache')?.apps, 2);
      await proxy.down();
      for (const app of made) {
        assert.equal((await firstFrame(server.port, app.key)).event, 'pusher:connection_established');
        assert.equal((await server.sdk(app).get({ path: '/channels' })).status, 200);
      }
      await server.stop();
      await proxy.up();
      server = await start(1);
      assert.ok(
        records.some((r) => r.msg === 'more apps than appStore.preload: each is looked up on its first use'),
      );
      await proxy.down();
      const frame = await firstFrame(server.port, made[0]!.key);
      assert.deepEqual(frame.data, { code: 4100, message: 'App lookup unavailable, try again' });
    } finally {
      await server.stop();
      await proxy.up();
      await proxy.down();
    }
  });
});

describe('an app store that cannot serve stops the start', { skip: await databaseSkip('postgres') }, () => {
  const silent = pino({ level: 'silent' });

  test('a table not migrated: the start fails saying to run herald apps migrate', async () => {
    const config = parseConfig({
      host: '127.0.0.1',
      port: 0,
      appStore: { driver: 'postgres', url: POSTGRES_URL, table: uniqueTable() },
    });
    await assert.rejects(new Herald(config, { logger: silent }).start(), /herald apps migrate/);
  });

  test('a database that is not there: the start fails naming it', async () => {
    const proxy = await TcpProxy.start(POSTGRES_URL, 5432);
    await proxy.down();
    const url = proxy.url(POSTGRES_URL);
    const config = parseConfig({
      host: '127.0.0.1',
      port: 0,
      appStore: { driver: 'postgres', url, table: 'x' },
    });
    await assert.rejects(new Herald(config, { logger: silent }).start(), (err: Error) => {
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${proxy.port}`));
      return true;
    });
    // The catalog it opened is closed again: nothing is left to keep the process alive.
    const catalog = openAppCatalog(config, silent);
    await catalog.close();
  });
});
