import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../../src/config/load.js';
import { crossbarConfig, isCrossbarNode } from '../../../src/import/crossbar.js';
import { importConfig } from '../../../src/import/import.js';
import { ImportError, Notes } from '../../../src/import/notes.js';
import { Authorizer } from '../../../src/protocol/wamp/authorizer.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../../test/fixtures/import/${name}`, import.meta.url), 'utf8');

function crossbar(text: string, file = 'config.json') {
  const { config, notes } = importConfig('crossbar', text, file);
  return {
    config,
    parsed: parseConfig(config),
    warned: new Map(notes.map((n) => [n.setting, n.reason])),
    refused: notes.filter((n) => n.kind === 'refuse').map((n) => n.setting),
  };
}

/** A node with one router: `realms`, and a WebSocket transport on 8080 with `auth`. */
function node(realms: unknown[], auth?: unknown) {
  return JSON.stringify({
    version: 2,
    workers: [
      {
        type: 'router',
        realms,
        transports: [{ type: 'websocket', endpoint: { type: 'tcp', port: 8080 }, ...(auth ? { auth } : {}) }],
      },
    ],
  });
}

const everything = {
  uri: '',
  match: 'prefix',
  allow: { call: true, register: true, publish: true, subscribe: true },
};

describe('Crossbar config.json', () => {
  test('as crossbar init writes it: realm1, anonymous allowed everything, WebSocket at /ws on 8080', () => {
    const { parsed, warned, refused } = crossbar(fixture('crossbar-init.json'));
    assert.deepEqual(refused, [], 'nothing that matters is left out');
    assert.equal(parsed.port, 8080);
    assert.equal(parsed.wamp.path, '/ws');
    assert.equal(parsed.wamp.maxMessageBytes, 1_048_576);
    const [realm] = parsed.wamp.realms;
    assert.equal(realm!.name, 'realm1');
    assert.equal(realm!.uriCheck, 'strict', "Crossbar's default");
    assert.deepEqual(realm!.allowedOrigins, ['*']);
    assert.deepEqual(realm!.roles, [
      {
        name: 'anonymous',
        permissions: [
          {
            uri: '',
            match: 'prefix',
            allow: { call: true, register: true, publish: true, subscribe: true },
            disclose: { caller: false, publisher: false },
          },
        ],
      },
    ]);
    assert.deepEqual(parsed.wamp.auth, { anonymous: { role: 'anonymous' } });
    for (const setting of [
      'workers.0.transports.0',
      'workers.0.transports.1.paths./',
      'workers.0.transports.1.paths.info',
      'workers.0.transports.1.paths.ws.serializers',
      'workers.0.transports.1.paths.ws.options.auto_ping_interval',
      'workers.0.transports.1.paths.ws.options.compression',
    ]) {
      assert.ok(warned.has(setting), `no warning for ${setting}`);
    }
    assert.match(warned.get('workers.0.transports.1.paths.ws.serializers')!, /"cbor"/);
  });

  test('roles and static principals: ticket, WAMP-CRA, cryptosign, anonymous; what Herald cannot say is named', () => {
    const { parsed, warned, refused } = crossbar(fixture('crossbar-auth.json'));
    const [realm] = parsed.wamp.realms;
    assert.deepEqual(
      realm!.roles.map((r) => r.name),
      ['frontend', 'backend', 'public', 'auditor'],
    );
    assert.deepEqual(realm!.roles[0]!.permissions[1], {
      uri: 'com.example.shop.chat.*',
      allow: { call: false, register: false, publish: true, subscribe: true },
      disclose: { caller: false, publisher: false },
    });
    assert.deepEqual(realm!.roles[3]!.permissions, [], 'a dynamic authorizer allows nothing here');
    assert.deepEqual(realm!.allowedOrigins, ['https://shop.example.com', 'http://localhost:*']);
    assert.deepEqual(parsed.wamp.auth.anonymous, { role: 'public' });
    assert.deepEqual(parsed.wamp.auth.ticket?.principals, {
      'worker-1': { ticket: 't1cket-worker-1', role: 'backend' },
    });
    // Salted users are carried in Crossbar's spelling, where the secret is the derived key.
    assert.equal(parsed.wamp.auth.wampcra!.type, 'static');
    assert.deepEqual(parsed.wamp.auth.wampcra!.users.peter, {
      secret: 'prq7+YkJ1/KlW1X0YczMHw==',
      role: 'frontend',
      salt: 'salt123',
      iterations: 100,
      keylen: 16,
    });
    assert.deepEqual(parsed.wamp.auth.cryptosign?.principals.deployer?.authorized_keys, [
      '1adfc8bfe1d35616e64dffbd900096f23b066f914c8c2ffbb66f6075b96e116d',
    ]);
    const auth = 'workers.0.transports.0.paths.ws.auth';
    assert.match(warned.get(`${auth}.ticket.principals.worker-2.ticket`)!, /WORKER2_TICKET/);
    assert.match(warned.get('workers.0.transports.1.auth.wampcra')!, /dynamic authenticator/);
    assert.match(warned.get('workers.0.realms.0.roles.3.authorizer')!, /dynamic authorizer/);
    assert.match(warned.get('workers.0.transports.1')!, /authenticates otherwise than/);
    assert.ok(warned.has('workers.0.options.pythonpath'));
    // The role "backend" is in this one realm only: binding deployer to it changes nothing.
    assert.ok(!warned.has('workers.0.transports.1.auth.cryptosign.principals.deployer.realm'));
    assert.deepEqual(refused.sort(), [
      'workers.0.realms.0.roles.3.authorizer',
      'workers.0.transports.1',
      'workers.0.transports.1.auth.wampcra',
    ]);
  });

  test('config.yaml reads as config.json does', () => {
    const json = fixture('crossbar-auth.json');
    const fromYaml = importConfig('crossbar', stringify(JSON.parse(json)), 'config.yaml');
    assert.deepEqual(fromYaml.config, importConfig('crossbar', json, 'config.json').config);
  });

  test('a principal whose role no realm has, or without one, is left out; so is anonymous then', () => {
    const { parsed, warned } = crossbar(
      node([{ name: 'realm1', roles: [{ name: 'user', permissions: [everything] }] }], {
        anonymous: { type: 'static', role: 'guest' },
        ticket: {
          type: 'static',
          principals: {
            a: { ticket: 't', role: 'user' },
            b: { ticket: 't', role: 'admin' },
            c: { ticket: 't' },
          },
        },
      }),
    );
    assert.deepEqual(parsed.wamp.auth, { ticket: { principals: { a: { ticket: 't', role: 'user' } } } });
    assert.match(warned.get('workers.0.transports.0.auth.anonymous')!, /"guest" is in no realm/);
    assert.match(warned.get('workers.0.transports.0.auth.ticket.principals.b')!, /"admin" is in no realm/);
    assert.match(
      warned.get('workers.0.transports.0.auth.ticket.principals.c')!,
      /not a principal with a role/,
    );
  });

  test('uri_check, realm options, bad realm names and permissions', () => {
    const { parsed, warned } = crossbar(
      node([
        {
          name: 'ok.realm',
          options: { uri_check: 'loose', enable_meta_api: true, bridge_meta_api: true },
          roles: [],
        },
        { name: '1bad', roles: [] },
        {
          name: 'other',
          roles: [
            {
              name: 'r',
              permissions: [
                { uri: 'a.b', match: 'regex', allow: { call: true } },
                { uri: 'x', allow: { call: 'yes', kill: true } },
              ],
            },
          ],
        },
      ]),
    );
    assert.deepEqual(
      parsed.wamp.realms.map((r) => [r.name, r.uriCheck]),
      [
        ['ok.realm', 'loose'],
        ['other', 'strict'],
      ],
    );
    assert.deepEqual(
      parsed.wamp.realms[1]!.roles[0]!.permissions.map((p) => p.uri),
      ['x'],
    );
    for (const s of [
      'workers.0.realms.0.options.bridge_meta_api',
      'workers.0.realms.1.name',
      'workers.0.realms.2.roles.0.permissions.0.match',
      'workers.0.realms.2.roles.0.permissions.1.allow.call',
      'workers.0.realms.2.roles.0.permissions.1.allow.kill',
    ]) {
      assert.ok(warned.has(s), s);
    }
    // A realm without roles let no client join in Crossbar; none gets in here, and nothing names a role.
    assert.deepEqual(parsed.wamp.auth, {});
  });

  test('TLS and the interface of the endpoint; a universal transport with its WebSocket paths', () => {
    const { parsed } = crossbar(
      JSON.stringify({
        version: 2,
        workers: [
          {
            type: 'router',
            realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [everything] }] }],
            transports: [
              {
                type: 'universal',
                endpoint: {
                  type: 'tcp',
                  port: 443,
                  interface: '10.0.0.2',
                  tls: {
                    key: 'server.key',
                    certificate: 'server.crt',
                    chain_certificates: ['intermediate.crt'],
                  },
                },
                websocket: { wamp: { type: 'websocket' } },
              },
            ],
          },
        ],
      }),
    );
    assert.deepEqual([parsed.host, parsed.port, parsed.wamp.path], ['10.0.0.2', 443, '/wamp']);
    assert.deepEqual(parsed.tls, { key: 'server.key', cert: 'server.crt', ca: 'intermediate.crt' });
  });

  test('not a node configuration: a clear error', () => {
    for (const text of ['{}', '{"workers": [{"type": "container"}]}', '{"workers": "router"}', '[1]']) {
      assert.throws(() => importConfig('crossbar', text, 'config.json'), ImportError, text);
    }
    assert.throws(() => importConfig('crossbar', node([{ name: '1' }]), 'config.json'), /no realm/);
  });

  test('what Herald cannot honour is a refusal, naming the key; what is harmless to leave out, a warning', () => {
    const ticket = { ticket: { type: 'static', principals: { w: { ticket: 't', role: 'anonymous' } } } };
    const { refused, warned } = crossbar(
      JSON.stringify({
        version: 2,
        controller: { id: 'node1', options: { title: 'x' } },
        workers: [
          {
            type: 'router',
            options: { pythonpath: ['..'], cpu_affinity: [0] },
            realms: [
              {
                name: 'realm1',
                roles: [{ name: 'anonymous', permissions: [everything] }],
                rlinks: [{ id: 'other', transport: {} }],
                store: { type: 'memory', 'call-queue': [] },
              },
            ],
            transports: [
              {
                type: 'web',
                endpoint: { type: 'tcp', port: 8080, backlog: 1024 },
                paths: {
                  '/': { type: 'static', directory: '../web' },
                  info: { type: 'nodeinfo' },
                  ws: { type: 'websocket', auth: ticket, options: { auto_ping_interval: 1000 } },
                  push: { type: 'publisher', realm: 'realm1', role: 'anonymous' },
                  lp: { type: 'longpoll' },
                },
              },
              { type: 'rawsocket', endpoint: { type: 'tcp', port: 8081 }, auth: ticket },
              { type: 'mqtt', endpoint: { type: 'tcp', port: 1883 } },
              { type: 'websocket', endpoint: { type: 'tcp', port: 9000 }, auth: ticket },
            ],
            components: [{ type: 'class', classname: 'app.Backend', realm: 'realm1' }],
          },
          { type: 'router', realms: [], transports: [] },
          { type: 'guest', executable: 'node', arguments: ['backend.js'] },
          { type: 'container', components: [] },
          { type: 'proxy', routes: {} },
          { type: 'xbrmm' },
        ],
      }),
    );
    assert.deepEqual(refused.sort(), [
      'workers.0.components',
      'workers.0.realms.0.rlinks',
      'workers.0.transports.0.paths.push',
      'workers.0.transports.2',
      'workers.1',
      'workers.2',
      'workers.3',
      'workers.4',
      'workers.5',
    ]);
    for (const setting of [
      'controller.id',
      'controller.options',
      'workers.0.options.pythonpath',
      'workers.0.options.cpu_affinity',
      'workers.0.realms.0.store.call-queue',
      'workers.0.transports.0.endpoint.backlog',
      'workers.0.transports.0.paths./',
      'workers.0.transports.0.paths.info',
      'workers.0.transports.0.paths.lp',
      'workers.0.transports.0.paths.ws.options.auto_ping_interval',
      'workers.0.transports.1',
      'workers.0.transports.3',
    ]) {
      assert.ok(warned.has(setting), `no warning for ${setting}`);
    }
    assert.match(warned.get('workers.2')!, /guest worker.*start it yourself/);
    assert.match(warned.get('workers.0.components')!, /WAMP clients of Herald/);
    assert.match(warned.get('workers.0.transports.2')!, /MQTT/);
    assert.match(warned.get('workers.0.transports.0.paths.push')!, /HTTP bridge/);
  });

  test("a realm's store: event-history rules become eventHistory, the store's limit their default", () => {
    const history = (store: unknown, options?: unknown) =>
      crossbar(
        node([{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [everything] }], store, options }]),
      );
    const { parsed, warned, refused } = history({
      type: 'memory',
      limit: 50,
      'event-history': [
        { uri: 'com.example.oncounter', match: 'exact', limit: 1000 },
        { uri: 'com.example.', match: 'prefix' },
        { uri: 'com..x', match: 'wildcard', limit: 5000 },
        { uri: 'com.bad', match: 'fuzzy' },
        { uri: 'wamp.session.on_join' },
        { uri: 'com.example.oncounter' },
      ],
    });
    assert.deepEqual(refused, ['workers.0.realms.0.store.event-history.3.match'], 'Crossbar refuses it too');
    assert.deepEqual(parsed.wamp.realms[0]!.eventHistory, [
      { uri: 'com.example.oncounter', match: 'exact', limit: 1000 },
      { uri: 'com.example.', match: 'prefix', limit: 50 },
      { uri: 'com..x', match: 'wildcard', limit: 1000 },
    ]);
    assert.match(warned.get('workers.0.realms.0.store.event-history.2.limit')!, /at most 1000/);
    assert.match(warned.get('workers.0.realms.0.store.event-history.3.match')!, /exact, prefix or wildcard/);
    assert.ok(
      [...warned.keys()].filter((k) => k.startsWith('workers.0.realms.0.store.event-history[')).length === 2,
      'the wamp. topic and the second rule for a topic are left out',
    );
    const persistent = history({ type: 'cfxdb', 'event-history': [{ uri: 'com.a' }] });
    assert.match(persistent.warned.get('workers.0.realms.0.store.type')!, /in memory, or in Redis or NATS/);
    assert.deepEqual(persistent.parsed.wamp.realms[0]!.eventHistory, [
      { uri: 'com.a', match: 'exact', limit: 100 },
    ]);
    const strict = history({ 'event-history': [{ uri: 'com.Upper' }] });
    assert.deepEqual(
      strict.parsed.wamp.realms[0]!.eventHistory,
      [],
      'Crossbar checks URIs strictly by default',
    );
    const loose = history({ 'event-history': [{ uri: 'com.Upper' }] }, { uri_check: 'loose' });
    assert.equal(loose.parsed.wamp.realms[0]!.eventHistory.length, 1);
    const tooMuch = Array.from({ length: 11 }, (_, i) => ({ uri: `com.t${i}`, limit: 1000 }));
    assert.throws(() => history({ 'event-history': tooMuch }));
  });

  test('access wider than Crossbar gave, or a transport Herald cannot listen on, is refused', () => {
    const cases: [unknown, string, RegExp][] = [
      // One transport lets anonymous in, the other asks for a ticket: merged, anyone could use both.
      [
        {
          type: 'router',
          realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [everything] }] }],
          transports: [
            { type: 'websocket', endpoint: { type: 'tcp', port: 8080 } },
            {
              type: 'websocket',
              endpoint: { type: 'tcp', port: 8081 },
              auth: { ticket: { type: 'static', principals: { a: { ticket: 't', role: 'anonymous' } } } },
            },
          ],
        },
        'workers.0.transports.1',
        /authenticates otherwise/,
      ],
      [
        {
          type: 'router',
          realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [everything] }] }],
          transports: [
            {
              type: 'websocket',
              endpoint: {
                type: 'tcp',
                port: 443,
                tls: { key: 'k.pem', certificate: 'c.pem', ca_certificates: ['ca.pem'] },
              },
            },
          ],
        },
        'workers.0.transports.0.endpoint.tls.ca_certificates',
        /client certificates/,
      ],
      [
        {
          type: 'router',
          realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [everything] }] }],
          transports: [{ type: 'websocket', endpoint: { type: 'tcp', port: 443, tls: { key: 'k.pem' } } }],
        },
        'workers.0.transports.0.endpoint.tls',
        /key and the certificate/,
      ],
      [
        {
          type: 'router',
          realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [everything] }] }],
          transports: [{ type: 'websocket', endpoint: { type: 'unix', path: '/tmp/cb.sock' } }],
        },
        'workers.0.transports.0.endpoint.type',
        /TCP only/,
      ],
      [
        {
          type: 'router',
          realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [everything] }] }],
          transports: [{ type: 'rawsocket', endpoint: { type: 'tcp', port: 8081 } }],
        },
        'workers',
        /no WebSocket transport/,
      ],
      [
        {
          type: 'router',
          realms: [
            { name: 'one', roles: [{ name: 'device', permissions: [everything] }] },
            { name: 'two', roles: [{ name: 'device', permissions: [everything] }] },
          ],
          transports: [
            {
              type: 'websocket',
              endpoint: { type: 'tcp', port: 8080 },
              auth: {
                cryptosign: {
                  type: 'static',
                  principals: { d: { realm: 'one', role: 'device', authorized_keys: ['ab'.repeat(32)] } },
                },
                cookie: {},
              },
            },
          ],
        },
        'workers.0.transports.0.auth.cryptosign.principals.d.realm',
        /"one", "two"/,
      ],
      [
        {
          type: 'router',
          realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [everything] }] }],
          transports: [
            {
              type: 'websocket',
              endpoint: { type: 'tcp', port: 8080 },
              options: { allowed_origins: ['https://example.com/app'] },
            },
          ],
        },
        'workers.0.transports.0.options.allowed_origins',
        /Origins/,
      ],
    ];
    for (const [router, setting, reason] of cases) {
      const { refused, warned } = crossbar(JSON.stringify({ version: 2, workers: [router] }));
      assert.ok(refused.includes(setting), `${setting} not refused: ${refused}`);
      assert.match(warned.get(setting)!, reason);
    }
  });

  test('secrets from the environment: read from the environment when one is given, refused when it lacks them', () => {
    const settings = JSON.parse(
      node([{ name: 'realm1', roles: [{ name: 'user', permissions: [everything] }] }], {
        ticket: { type: 'static', principals: { a: { ticket: `\${A_TICKET}`, role: 'user' } } },
        wampcra: { type: 'static', users: { b: { secret: `\${B_SECRET}`, role: 'user' } } },
      }),
    );
    const notes = new Notes('refuse');
    const config = crossbarConfig(settings, 'config.json', notes, { A_TICKET: 'from-env' });
    assert.deepEqual(config.wamp?.auth?.ticket?.principals, { a: { ticket: 'from-env', role: 'user' } });
    assert.equal(config.wamp?.auth?.wampcra, undefined);
    assert.deepEqual(
      notes.refusals.map((n) => [n.setting, n.reason]),
      [
        [
          'workers.0.transports.0.auth.wampcra.users.b.secret',
          'the environment variable B_SECRET is not set: set it',
        ],
      ],
    );
  });

  test("a realm's meta API turned off: its roles are denied every wamp. URI, and keep the rest", () => {
    const { parsed } = crossbar(
      node([
        {
          name: 'realm1',
          options: { enable_meta_api: false },
          roles: [
            {
              name: 'anonymous',
              permissions: [everything, { uri: 'wamp.session.', match: 'prefix', allow: { call: true } }],
            },
          ],
        },
      ]),
    );
    const authorizer = new Authorizer(parsed.wamp.realms[0]!.roles);
    assert.equal(authorizer.authorize('anonymous', 'wamp.session.list', 'call').allow, false);
    assert.equal(authorizer.authorize('anonymous', 'wamp.subscription.on_create', 'subscribe').allow, false);
    assert.equal(authorizer.authorize('anonymous', 'com.example.add', 'call').allow, true);
  });

  test("Crossbar's shape: version 2, a workers list, none of Herald's settings", () => {
    assert.equal(isCrossbarNode(JSON.parse(fixture('crossbar-init.json'))), true);
    assert.equal(isCrossbarNode({ version: 2, workers: [] }), true);
    for (const settings of [
      { version: 1, workers: [] },
      { version: 2, workers: 2 },
      { version: 2, workers: [], port: 6001 },
      { workers: 2, port: 6001 },
      {},
    ]) {
      assert.equal(isCrossbarNode(settings), false, JSON.stringify(settings));
    }
  });
});
