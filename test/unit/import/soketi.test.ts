import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { importConfig } from '../../../src/import/import.js';
import { ImportError } from '../../../src/import/notes.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../../test/fixtures/import/${name}`, import.meta.url), 'utf8');

/** The import of a soketi file, and the setting each warning names. */
function soketi(text: string, file = 'config.json') {
  const { config, notes: warnings } = importConfig('soketi', text, file);
  return { config, parsed: parseConfig(config), warned: new Map(warnings.map((w) => [w.setting, w.reason])) };
}

const json = (value: unknown) => JSON.stringify(value);

describe('soketi config.json', () => {
  test('two apps, the redis adapter, limits, TLS, metrics: each where Herald keeps it', () => {
    const { parsed, warned } = soketi(fixture('soketi-config.json'));
    assert.equal(parsed.port, 6001);
    assert.deepEqual(parsed.tls, { cert: '/etc/ssl/soketi.crt', key: '/etc/ssl/soketi.key' });
    assert.deepEqual([parsed.api.host, parsed.api.port], ['0.0.0.0', 9601]);
    assert.equal(parsed.shutdownTimeoutMs, 10_000);
    assert.equal(parsed.webhooks.batchWindowMs, 100);
    assert.equal(parsed.adapter.driver, 'redis');
    // The password's space survives as %20, which ioredis decodes.
    assert.equal(parsed.adapter.url, 'redis://:r3d!s%20pass@10.0.0.5:6380/2');
    assert.equal(parsed.adapter.prefix, 'soketi-prod');
    assert.equal(parsed.adapter.requestTimeoutMs, 3000);

    const [shop, admin] = parsed.apps;
    assert.deepEqual([shop!.id, shop!.key, shop!.secret], ['1001', 'shop-key', 'shop-secret']);
    assert.equal(shop!.maxConnections, 500);
    assert.equal(shop!.clientEvents, true);
    assert.equal(shop!.maxClientEventsPerSecond, 20);
    assert.equal(shop!.userAuthentication, true);
    assert.equal(shop!.maxPresenceMembers, 50);
    assert.equal(shop!.maxHttpRequestsPerSecond, 150, 'backend events and reads, one limit');
    // Server-wide limits are every app's default: 100 KB events, 2 KB members, 50 channels a trigger.
    assert.equal(shop!.maxEventPayloadBytes, 102_400);
    assert.equal(shop!.maxPresenceUserInfoBytes, 2048);
    assert.equal(shop!.maxChannelsPerTrigger, 50);
    assert.equal(shop!.batchWebhooks, true);
    assert.deepEqual(shop!.webhooks, [
      {
        url: 'https://shop.example.com/pusher/webhooks',
        events: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'],
        headers: { 'X-Shop': 'main' },
        filter: { channelPrefix: 'presence-' },
      },
    ]);
    assert.equal(admin!.id, '1002', 'a numeric id is text');
    assert.equal(admin!.maxConnections, null, '-1 is no limit');
    assert.deepEqual(admin!.webhooks, []);

    for (const setting of [
      'appManager.array.apps.1.webhooks.0.lambda_function',
      'database.redis.keyPrefix',
      'queue.driver',
      'cors.origin',
      'appManager.array.apps.0.maxBackendEventsPerSecond',
    ]) {
      assert.ok(warned.has(setting), `no warning for ${setting}: ${[...warned.keys()].join(', ')}`);
    }
    assert.equal(warned.size, 5, [...warned.keys()].join(', '));
  });

  test('dotted and nested option paths mean the same, as soketi sets them', () => {
    const dotted = soketi(
      json({ 'adapter.driver': 'redis', 'adapter.redis.prefix': 'p', 'database.redis.port': 7000 }),
    );
    const nested = soketi(
      json({ adapter: { driver: 'redis', redis: { prefix: 'p' } }, database: { redis: { port: 7000 } } }),
    );
    assert.deepEqual(dotted.config, nested.config);
    assert.equal(dotted.parsed.adapter.url, 'redis://127.0.0.1:7000');
  });

  test('option paths that would reach a prototype are refused and named, not followed', () => {
    const { warned, parsed } = soketi(
      json({ '__proto__.polluted': 1, 'constructor.prototype.polluted': 1, 'a..b': 1, port: 7000 }),
      'soketi.conf',
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(parsed.port, 7000);
    assert.deepEqual([...warned.keys()], ['__proto__.polluted', 'constructor.prototype.polluted', 'a..b']);
  });

  test('Sentinel and Redis Cluster connections become Herald URLs', () => {
    const sentinel = soketi(
      json({
        'adapter.driver': 'redis',
        database: {
          redis: {
            sentinels: [
              { host: '10.0.0.1', port: 26379 },
              { host: '10.0.0.2', port: 26380 },
            ],
            name: 'main',
            password: 'pw',
            sentinelPassword: 's p',
            db: 3,
          },
        },
      }),
    );
    assert.equal(
      sentinel.parsed.adapter.url,
      'redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26380/main?db=3&sentinelPassword=s+p',
    );
    const cluster = soketi(
      json({
        adapter: { driver: 'redis', redis: { clusterMode: true } },
        'database.redis.clusterNodes': ['10.0.0.1:7000', { host: '10.0.0.2', port: 7001 }],
      }),
    );
    assert.equal(cluster.parsed.adapter.url, 'redis+cluster://10.0.0.1:7000,10.0.0.2:7001');
  });

  test('MySQL and PostgreSQL app managers become the app store, whose table Herald makes its own', () => {
    const { parsed, warned } = soketi(
      json({
        'appManager.driver': 'postgres',
        'appManager.postgres.table': 'apps',
        'database.postgres': { host: 'db', user: 'soketi', password: 'p@ss', database: 'realtime' },
        databasePooling: { enabled: true, min: 2, max: 12 },
        'appManager.cache': { enabled: true, ttl: 30 },
      }),
    );
    assert.deepEqual(parsed.appStore, {
      ...parsed.appStore,
      driver: 'postgres',
      url: 'postgres://soketi:p%40ss@db:5432/realtime',
      poolSize: 12,
      cacheTtlMs: 30_000,
      table: 'herald_apps',
    });
    assert.match(warned.get('appManager.postgres.table')!, /herald apps migrate/);
    assert.ok(warned.has('databasePooling.min'));
    const mysql = soketi(json({ appManager: { driver: 'mysql' } }));
    assert.equal(
      mysql.parsed.appStore.driver === 'mysql' && mysql.parsed.appStore.url,
      'mysql://root:password@127.0.0.1:3306/main',
    );
  });

  test('settings Herald has no place for are each named, with why', () => {
    const { warned, parsed } = soketi(
      json({
        'adapter.driver': 'cluster',
        'appManager.driver': 'dynamodb',
        'appManager.dynamodb.table': 'apps',
        mode: 'worker',
        'httpApi.acceptTraffic.memoryThreshold': 90,
        'metrics.prometheus.prefix': 'ws_',
        'webhooks.maxRetries': 3,
        'adapter.nats.prefix': 'unused',
        someOption: true,
      }),
    );
    assert.equal(parsed.adapter.driver, 'memory');
    assert.match(warned.get('adapter.driver')!, /workers/);
    assert.match(warned.get('appManager.driver')!, /app-id/);
    assert.deepEqual(
      parsed.apps.map((a) => a.id),
      ['app-id'],
    );
    assert.match(warned.get('adapter.nats.prefix')!, /only with adapter.driver "nats"/);
    for (const s of [
      'appManager.dynamodb.table',
      'mode',
      'httpApi.acceptTraffic.memoryThreshold',
      'metrics.prometheus.prefix',
      'webhooks.maxRetries',
      'someOption',
    ]) {
      assert.ok(warned.has(s), s);
    }
  });

  test("an app's odd values are warned about and left out; soketi's three spellings are read", () => {
    const { parsed, warned } = soketi(
      json({
        'appManager.array.apps': [
          { AppId: 'a', AppKey: 'k', AppSecret: 's', MaxConnections: '40', enable_client_messages: 'true' },
          { id: 'b', key: 'k', secret: 's' },
          {
            id: 'c',
            key: 'kc',
            max_connections: 'many',
            name: 'Chat',
            webhooks: '[{"url":"ftp://x","event_types":["member_added"]}]',
          },
          'not an app',
        ],
      }),
    );
    assert.deepEqual(
      parsed.apps.map((a) => a.id),
      ['a', 'c'],
    );
    assert.equal(parsed.apps[0]!.maxConnections, 40);
    assert.equal(parsed.apps[0]!.clientEvents, true);
    assert.equal(parsed.apps[0]!.maxClientEventsPerSecond, 10, 'unset in soketi is no limit; warned');
    assert.ok(warned.has('appManager.array.apps.0.maxClientEventsPerSecond'));
    assert.match(warned.get('appManager.array.apps.1')!, /second app with key "k"/);
    assert.equal(parsed.apps[1]!.secret, 'app-secret', "soketi's default secret");
    assert.ok(warned.has('appManager.array.apps.2.secret'));
    assert.ok(warned.has('appManager.array.apps.2.max_connections'));
    assert.ok(warned.has('appManager.array.apps.2.name'));
    assert.ok(warned.has('appManager.array.apps.2.webhooks.0.url'));
    assert.ok(warned.has('appManager.array.apps.3'));
  });

  test('no apps at all: soketi served its default app, and so does the import', () => {
    const { parsed, warned } = soketi(json({ port: 7001 }));
    assert.deepEqual(
      parsed.apps.map((a) => [a.id, a.key, a.secret]),
      [['app-id', 'app-key', 'app-secret']],
    );
    assert.equal(warned.size, 0);
  });
});

describe('soketi .env', () => {
  test('SOKETI_* variables, values read as JSON as soketi reads them; other variables skipped', () => {
    const { parsed, warned } = soketi(fixture('soketi.env'), 'soketi.env');
    assert.equal(parsed.port, 6002);
    assert.equal(parsed.logLevel, 'debug');
    assert.equal(parsed.pathPrefix, '/realtime');
    assert.deepEqual(parsed.adapter, {
      ...parsed.adapter,
      driver: 'nats',
      url: 'nats://10.0.0.7:4222,nats://10.0.0.8:4222',
    });
    const [chat] = parsed.apps;
    assert.deepEqual([chat!.id, chat!.key, chat!.secret], ['chat', 'chat-key', 'chat secret']);
    assert.equal(chat!.maxConnections, 1000);
    assert.equal(chat!.maxPresenceMembers, 200);
    assert.deepEqual(
      chat!.webhooks.map((w) => [w.url, w.events]),
      [['https://chat.example.com/hooks', ['member_added', 'member_removed']]],
    );
    assert.deepEqual(
      [...warned.keys()].sort(),
      // Client events on and no limit set: soketi's was none, Herald's is 10 a second.
      ['SOKETI_ADAPTER_NATS_TOKEN', 'SOKETI_CLUSTER_PORT', 'SOKETI_DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SEC'],
    );
  });

  test('an unknown SOKETI_ variable is named; a file with none is refused', () => {
    const { warned } = soketi('SOKETI_PORT=7000\nSOKETI_PROT=7001\n', '.env');
    assert.match(warned.get('SOKETI_PROT')!, /not a variable soketi reads/);
    assert.throws(() => importConfig('soketi', 'APP_NAME=x\n', '.env'), ImportError);
  });
});

describe('malformed soketi files', () => {
  test('broken JSON names the line; a port out of range is warned about and left out', () => {
    assert.throws(() => importConfig('soketi', '{\n  "port": 6001,\n  oops\n}', 'config.json'), /line 3/);
    const { parsed, warned } = soketi(json({ port: 70000, debug: 'sometimes' }));
    assert.equal(parsed.port, 6001);
    assert.ok(warned.has('port'));
    assert.ok(warned.has('debug'));
  });
});
