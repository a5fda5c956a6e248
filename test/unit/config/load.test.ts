import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import {
  ConfigError,
  type ConfigWarning,
  ERR_CONFIG_INVALID,
  envEntries,
  loadConfig,
  parseConfig,
} from '../../../src/config/load.js';
import { WEBHOOK_EVENTS } from '../../../src/config/schema.js';

/** Catches the `ConfigError` `fn` must throw (sync or async) and returns its problems. */
async function problemsOf(fn: () => unknown): Promise<readonly string[]> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, ERR_CONFIG_INVALID);
    for (const problem of err.problems) assert.ok(err.message.includes(problem), problem);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('parseConfig', () => {
  test('defaults: port 6001, host 0.0.0.0, one app app-id/app-key/app-secret', () => {
    const config = parseConfig({});
    assert.equal(config.port, 6001);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.pathPrefix, '');
    assert.equal(config.activityTimeoutSeconds, 120);
    assert.equal(config.pongTimeoutSeconds, 30);
    assert.deepEqual(config.adapter, {
      driver: 'memory',
      prefix: 'herald',
      heartbeatMs: 1000,
      nodeTimeoutMs: 5000,
      requestTimeoutMs: 2000,
    });
    assert.equal(config.apps.length, 1);
    const app = config.apps[0]!;
    assert.equal(app.id, 'app-id');
    assert.equal(app.key, 'app-key');
    assert.equal(app.secret, 'app-secret');
    assert.equal(app.enabled, true);
    assert.equal(app.clientEvents, false);
    assert.equal(app.maxPresenceMembers, 100);
    assert.equal(app.maxEventPayloadBytes, 10_240);
    assert.equal(app.maxChannelNameLength, 164);
  });

  test('app fields get their defaults when an app gives only credentials', () => {
    const config = parseConfig({ apps: [{ id: '1', key: 'k', secret: 's', clientEvents: true }] });
    assert.deepEqual(
      { ...config.apps[0], webhooks: [...config.apps[0]!.webhooks] },
      {
        ...parseConfig({}).apps[0],
        id: '1',
        key: 'k',
        secret: 's',
        clientEvents: true,
        webhooks: [],
      },
    );
  });

  test('lists every problem at once, each naming its field', async () => {
    const problems = await problemsOf(() =>
      parseConfig({
        bogus: true,
        port: 'abc',
        pathPrefix: 'no-slash',
        adapter: { driver: 'redis' },
        apps: [
          { id: 'a', key: 'k', secret: 's', color: 'red' },
          { id: 'a', key: 'k', secret: '' },
        ],
      }),
    );
    const fields = problems.map((p) => p.slice(0, p.indexOf(':')));
    assert.deepEqual(
      [...fields].sort(),
      [
        'adapter.url',
        'apps.0.color',
        'apps.1.id',
        'apps.1.key',
        'apps.1.secret',
        'bogus',
        'pathPrefix',
        'port',
      ].sort(),
    );
    assert.ok(problems.some((p) => /^apps\.1\.key: duplicate app key "k" \(also apps\.0\.key\)$/.test(p)));
    assert.ok(problems.some((p) => /^adapter\.url: required when adapter\.driver is "redis"$/.test(p)));
  });

  test('range checks: port above 65535 and a zero limit are refused', async () => {
    const problems = await problemsOf(() =>
      parseConfig({
        port: 70_000,
        maxMessageBytes: 0,
        apps: [{ id: 'a', key: 'k', secret: 's', maxBatchSize: -1 }],
      }),
    );
    assert.deepEqual(problems.map((p) => p.slice(0, p.indexOf(':'))).sort(), [
      'apps.0.maxBatchSize',
      'maxMessageBytes',
      'port',
    ]);
  });

  test('allowedOrigins: every origin by default; each bad entry reported by its path', async () => {
    const app = parseConfig({}).apps[0]!;
    assert.deepEqual(app.allowedOrigins, ['*']);
    assert.equal(app.requireOrigin, false);
    const problems = await problemsOf(() =>
      parseConfig({
        apps: [
          {
            id: 'a',
            key: 'k',
            secret: 's',
            allowedOrigins: ['https://ok.example.com', 'https://example.com/', '*.example.com', 'null'],
          },
        ],
      }),
    );
    assert.deepEqual(
      problems.map((p) => p.slice(0, p.indexOf(':'))),
      ['apps.0.allowedOrigins.1', 'apps.0.allowedOrigins.3'],
    );
    assert.ok(problems[0]!.includes('"https://example.com/" is not "*"'), problems[0]);
  });

  test('the result is deeply frozen', () => {
    const config = parseConfig({ apps: [{ id: 'a', key: 'k', secret: 's' }] });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.apps));
    assert.ok(Object.isFrozen(config.apps[0]));
    assert.ok(Object.isFrozen(config.adapter));
    assert.ok(Object.isFrozen(config.wamp.realms));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (config.apps as unknown[]).push({});
    }, TypeError);
    assert.throws(() => {
      (config.apps[0] as { secret: string }).secret = 'x';
    }, TypeError);
  });
});

describe('envEntries', () => {
  const entries = envEntries();
  const byName = new Map(entries.map((e) => [e.name, e]));

  test('derives HERALD_* names from the schema paths', () => {
    assert.deepEqual(byName.get('HERALD_ADAPTER_URL'), {
      name: 'HERALD_ADAPTER_URL',
      path: ['adapter', 'url'],
      kind: 'string',
    });
    assert.deepEqual(byName.get('HERALD_MAX_MESSAGE_BYTES'), {
      name: 'HERALD_MAX_MESSAGE_BYTES',
      path: ['maxMessageBytes'],
      kind: 'number',
    });
    assert.deepEqual(byName.get('HERALD_PORT'), { name: 'HERALD_PORT', path: ['port'], kind: 'number' });
    assert.equal(byName.get('HERALD_LOG_LEVEL')?.kind, 'string');
    assert.equal(byName.get('HERALD_ADAPTER_DRIVER')?.kind, 'string');
    assert.equal(byName.get('HERALD_WAMP_PATH')?.kind, 'string');
    assert.equal(byName.get('HERALD_APPS')?.kind, 'json');
    assert.equal(byName.get('HERALD_WAMP_REALMS')?.kind, 'json');
  });

  test('every top-level setting has exactly one variable, and names are unique', () => {
    assert.equal(byName.size, entries.length);
    for (const key of Object.keys(parseConfig({}))) {
      assert.ok(
        entries.some((e) => e.path[0] === key),
        `no environment variable for ${key}`,
      );
    }
    for (const e of entries) assert.match(e.name, /^HERALD_[A-Z0-9_]+$/);
  });
});

describe('loadConfig', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-config-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function file(name: string, content: unknown): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  }

  test('with nothing given, it is parseConfig({})', async () => {
    assert.deepEqual(await loadConfig({ env: {} }), parseConfig({}));
  });

  test('precedence: file < HERALD_* env < overrides', async () => {
    const path = await file('precedence.json', {
      port: 7000,
      host: '10.0.0.1',
      logLevel: 'warn',
      maxMessageBytes: 1000,
      adapter: { driver: 'memory' },
    });
    const config = await loadConfig({
      file: path,
      env: {
        HERALD_PORT: '7001',
        HERALD_HOST: '10.0.0.2',
        HERALD_MAX_MESSAGE_BYTES: '2048',
        HERALD_ADAPTER_DRIVER: 'redis',
        HERALD_ADAPTER_URL: 'redis://cache:6379',
        HERALD_LOG_LEVEL: '',
      },
      overrides: { port: '7002' },
    });
    assert.equal(config.port, 7002, 'override beats env and file');
    assert.equal(config.host, '10.0.0.2', 'env beats file');
    assert.equal(config.maxMessageBytes, 2048, 'env numbers are parsed');
    assert.equal(config.logLevel, 'warn', 'an empty variable is ignored; the file value stays');
    assert.equal(config.adapter.driver, 'redis', 'nested env');
    assert.equal(config.adapter.url, 'redis://cache:6379', 'nested env');
  });

  test('app credentials: --app-* overrides beat HERALD_APP_* which beat the file', async () => {
    const path = await file('apps.json', {
      apps: [
        { id: 'file-id', key: 'file-key', secret: 'file-secret', clientEvents: true },
        { id: 'second', key: 'second-key', secret: 'second-secret' },
      ],
    });
    const config = await loadConfig({
      file: path,
      env: { HERALD_APP_KEY: 'env-key', HERALD_APP_SECRET: 'env-secret' },
      overrides: { appSecret: 'flag-secret' },
    });
    assert.deepEqual(
      config.apps.map((a) => [a.id, a.key, a.secret]),
      [
        ['file-id', 'env-key', 'flag-secret'],
        ['second', 'second-key', 'second-secret'],
      ],
    );
    assert.equal(config.apps[0]!.clientEvents, true, 'the rest of the first app is kept');
  });

  test('HERALD_APP_* without any file makes the default app', async () => {
    const config = await loadConfig({ env: { HERALD_APP_SECRET: 'only-secret' } });
    assert.deepEqual(
      config.apps.map((a) => [a.id, a.key, a.secret]),
      [['app-id', 'app-key', 'only-secret']],
    );
  });

  test('HERALD_APPS takes JSON and fills app defaults', async () => {
    const config = await loadConfig({
      env: {
        HERALD_APPS: JSON.stringify([
          { id: '1', key: 'k1', secret: 's1', clientEvents: true },
          { id: '2', key: 'k2', secret: 's2', enabled: false },
        ]),
      },
    });
    assert.deepEqual(
      config.apps.map((a) => [a.id, a.key, a.clientEvents, a.enabled, a.maxClientEventsPerSecond]),
      [
        ['1', 'k1', true, true, 10],
        ['2', 'k2', false, false, 10],
      ],
    );
  });

  test('HERALD_APPS that is not JSON is named, along with every other problem', async () => {
    const problems = await problemsOf(() =>
      loadConfig({ env: { HERALD_APPS: '[{id:', HERALD_PORT: 'abc', HERALD_MAX_MESSAGE_BYTES: '-5' } }),
    );
    assert.ok(
      problems.some((p) => p.startsWith('HERALD_APPS: not valid JSON')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('port: ')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('maxMessageBytes: ')),
      problems.join('\n'),
    );
  });

  test('a bad port override is named', async () => {
    const problems = await problemsOf(() => loadConfig({ env: {}, overrides: { port: 'http' } }));
    assert.deepEqual(
      problems.map((p) => p.slice(0, p.indexOf(':'))),
      ['port'],
    );
  });

  test('workers: from --workers or HERALD_WORKERS; more than one needs a cluster adapter', async () => {
    const fromEnv = await loadConfig({
      env: { HERALD_WORKERS: '3', HERALD_ADAPTER_DRIVER: 'nats', HERALD_ADAPTER_URL: 'nats://b:4222' },
    });
    assert.equal(fromEnv.workers, 3);
    const fromFlags = await loadConfig({
      env: { HERALD_WORKERS: '3' },
      overrides: { workers: '2', adapter: { driver: 'redis', url: 'redis://a:6379' } },
    });
    assert.equal(fromFlags.workers, 2);
    assert.equal((await loadConfig({ env: {} })).workers, 1);
    const alone = await problemsOf(() => loadConfig({ env: {}, overrides: { workers: '2' } }));
    assert.equal(alone.length, 1);
    assert.match(alone[0]!, /^workers: more than one worker needs adapter\.driver "redis" or "nats"/);
    const zero = await problemsOf(() => loadConfig({ env: {}, overrides: { workers: 'none' } }));
    assert.deepEqual(
      zero.map((p) => p.slice(0, p.indexOf(':'))),
      ['workers'],
    );
  });

  test('tls: from the file, HERALD_TLS_* and --ssl-*, field by field; cert and key go together', async () => {
    assert.equal((await loadConfig({ env: {} })).tls, undefined);
    const path = await file('tls.json', { tls: { cert: '/file/cert.pem', key: '/file/key.pem' } });
    const config = await loadConfig({
      file: path,
      env: { HERALD_TLS_KEY: '/env/key.pem', HERALD_TLS_PASSPHRASE: 'from env' },
      overrides: { tls: { cert: '/flag/cert.pem', ca: '/flag/ca.pem' } },
    });
    assert.deepEqual(config.tls, {
      cert: '/flag/cert.pem',
      key: '/env/key.pem',
      ca: '/flag/ca.pem',
      passphrase: 'from env',
    });
    assert.deepEqual(
      await problemsOf(() => loadConfig({ env: {}, overrides: { tls: { cert: '/c.pem' } } })),
      ['tls.key: required with tls (--ssl-key FILE)'],
    );
    assert.deepEqual(
      await problemsOf(() =>
        loadConfig({
          env: { HERALD_TLS_KEY: '/k.pem', HERALD_TLS_CERT: '' },
          overrides: { tls: { ca: '' } },
        }),
      ),
      [
        'tls.cert: required with tls (--ssl-cert FILE)',
        'tls.ca: Too small: expected string to have >=1 characters',
      ],
    );
  });

  test('api: no admin listener by default; --api-host/--api-port and HERALD_API_* set it up', async () => {
    assert.deepEqual((await loadConfig({ env: {} })).api, { host: '127.0.0.1', port: null, public: true });
    const config = await loadConfig({
      env: { HERALD_API_PORT: '7100', HERALD_API_PUBLIC: 'false' },
      overrides: { api: { host: '10.0.0.5', port: '7101' } },
    });
    assert.deepEqual(config.api, { host: '10.0.0.5', port: 7101, public: false });
    assert.equal((await loadConfig({ env: {}, overrides: { api: { port: '0' } } })).api.port, 0);
    assert.deepEqual(await problemsOf(() => loadConfig({ env: { HERALD_API_PUBLIC: 'false' } })), [
      'api.public: false needs api.port (--api-port): otherwise no listener serves the HTTP API',
    ]);
    const token = 'a'.repeat(32);
    assert.deepEqual(await problemsOf(() => loadConfig({ env: { HERALD_API_TOKEN: token } })), [
      'api.token: needs api.port (--api-port): the app management API is served on the admin listener only',
    ]);
    const withPort = { HERALD_API_TOKEN: token, HERALD_API_PORT: '7100' };
    assert.equal((await loadConfig({ env: withPort })).api.token, token);
    const bad = await problemsOf(() =>
      loadConfig({ env: {}, overrides: { api: { port: '70000', host: '' } } }),
    );
    assert.deepEqual(
      bad.map((p) => p.slice(0, p.indexOf(':'))),
      ['api.host', 'api.port'],
    );
  });

  test('an unreadable or non-object file is named', async () => {
    const missing = join(dir, 'missing.json');
    assert.ok(
      (await problemsOf(() => loadConfig({ file: missing, env: {} })))[0]!.startsWith(
        `${missing}: cannot be read`,
      ),
    );
    const array = await file('array.json', '[]');
    assert.ok(
      (await problemsOf(() => loadConfig({ file: array, env: {} })))[0]!.startsWith(
        `${array}: must hold a JSON object`,
      ),
    );
    const broken = await file('broken.json', '{"port": ');
    assert.ok(
      (await problemsOf(() => loadConfig({ file: broken, env: {} })))[0]!.startsWith(
        `${broken}: not valid JSON`,
      ),
    );
  });

  test('--webhook-url adds a webhook of every event type to the first app, after its own', async () => {
    const path = await file('hooks.json', {
      apps: [
        {
          id: 'a',
          key: 'k',
          secret: 's',
          webhooks: [{ url: 'https://example.com/own', events: ['member_added'] }],
        },
        { id: 'b', key: 'k2', secret: 's2' },
      ],
    });
    const config = await loadConfig({
      file: path,
      env: {},
      overrides: { webhookUrls: ['http://127.0.0.1:9000/a', 'https://hooks.example.com/b'] },
    });
    const [first, second] = config.apps;
    assert.deepEqual(
      first!.webhooks.map((w) => [w.url, w.events.length]),
      [
        ['https://example.com/own', 1],
        ['http://127.0.0.1:9000/a', 7],
        ['https://hooks.example.com/b', 7],
      ],
    );
    assert.deepEqual(first!.webhooks[1]!.events, [...WEBHOOK_EVENTS]);
    assert.deepEqual(second!.webhooks, []);
    const alone = await loadConfig({ env: {}, overrides: { webhookUrls: ['http://127.0.0.1:9000/a'] } });
    assert.deepEqual(
      alone.apps.map((a) => [a.id, a.webhooks.length]),
      [['app-id', 1]],
    );
  });

  test('a --webhook-url that is not http(s) is named, along with every other problem', async () => {
    const problems = await problemsOf(() =>
      loadConfig({
        env: { HERALD_PORT: 'abc' },
        overrides: { webhookUrls: ['not a url', 'ftp://example.com/x', 'http://127.0.0.1/ok'] },
      }),
    );
    assert.deepEqual([...problems].sort(), [
      '--webhook-url: "ftp://example.com/x" is not an http:// or https:// URL',
      '--webhook-url: "not a url" is not an http:// or https:// URL',
      problems.find((p) => p.startsWith('port: '))!,
    ]);
  });

  test('--verbose and --log-format: logFrames and logFormat, over HERALD_LOG_*', async () => {
    const plain = await loadConfig({ env: {} });
    assert.equal(plain.logFrames, false);
    assert.equal(plain.logFormat, undefined);
    const fromEnv = await loadConfig({ env: { HERALD_LOG_FRAMES: 'true', HERALD_LOG_FORMAT: 'json' } });
    assert.deepEqual([fromEnv.logFrames, fromEnv.logFormat], [true, 'json']);
    const fromFlags = await loadConfig({
      env: { HERALD_LOG_FORMAT: 'json' },
      overrides: { logFrames: true, logFormat: 'pretty', logLevel: 'debug' },
    });
    assert.deepEqual(
      [fromFlags.logFrames, fromFlags.logFormat, fromFlags.logLevel],
      [true, 'pretty', 'debug'],
    );
    const problems = await problemsOf(() => loadConfig({ env: {}, overrides: { logFormat: 'xml' } }));
    assert.match(problems[0]!, /^logFormat: .*"pretty"\|"json"/);
  });

  test('the loaded configuration is frozen', async () => {
    const config = await loadConfig({ env: { HERALD_PORT: '7003' } });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.apps[0]));
    assert.throws(() => {
      (config as { host: string }).host = 'x';
    }, TypeError);
  });

  test('a Crossbar.io node configuration, JSON or YAML: read through the importer, warnings handed back', async () => {
    const init = readFileSync(
      new URL('../../../../test/fixtures/import/crossbar-init.json', import.meta.url),
      'utf8',
    );
    for (const path of [
      await file('config.json', init),
      await file('config.yaml', stringify(JSON.parse(init))),
    ]) {
      const warnings: ConfigWarning[] = [];
      const config = await loadConfig({ file: path, env: { HERALD_PORT: '7004' }, warnings });
      assert.deepEqual(
        [config.port, config.wamp.path, config.wamp.realms.map((r) => r.name)],
        [7004, '/ws', ['realm1']],
        'the environment still overrides the file',
      );
      const rawsocket = warnings.find((w) => w.setting === 'workers.0.transports.0');
      assert.deepEqual(rawsocket && [rawsocket.file, /RawSocket/.test(rawsocket.reason)], [path, true]);
    }
  });

  test('a Crossbar.io node configuration with what Herald cannot honour: each refusal is a problem', async () => {
    const path = await file('refused.json', {
      version: 2,
      workers: [
        {
          type: 'router',
          realms: [{ name: 'realm1', roles: [{ name: 'anonymous', authorizer: 'com.example.authorize' }] }],
          transports: [{ type: 'websocket', endpoint: { type: 'tcp', port: 8080 } }],
        },
        { type: 'guest', executable: 'python3' },
      ],
    });
    const found = await problemsOf(() => loadConfig({ file: path, env: {} }));
    assert.deepEqual(
      found.map((p) => p.split(': ')[1]),
      ['workers.1', 'workers.0.realms.0.roles.0.authorizer'],
    );
    assert.ok(found.every((p) => p.startsWith(`${path} (Crossbar.io): `)));
    const mixed = await file('mixed.json', { version: 2, workers: [], port: 6001 });
    assert.match(
      (await problemsOf(() => loadConfig({ file: mixed, env: {} })))[0]!,
      /a Crossbar\.io node configuration's list of workers with Herald's port: keep Herald's settings in a file of their own/,
    );
    const old = await file('old.json', { controller: {}, workers: [{ type: 'router' }] });
    assert.match(
      (await problemsOf(() => loadConfig({ file: old, env: {} })))[0]!,
      /a list of workers, as a Crossbar\.io node configuration has, of version none: Herald reads version 2/,
    );
  });
});
