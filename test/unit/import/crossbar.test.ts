import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../../src/config/load.js';
import { importConfig } from '../../../src/import/import.js';
import { ImportError } from '../../../src/import/notes.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../../test/fixtures/import/${name}`, import.meta.url), 'utf8');

function crossbar(text: string, file = 'config.json') {
  const { config, warnings } = importConfig('crossbar', text, file);
  return { parsed: parseConfig(config), warned: new Map(warnings.map((w) => [w.setting, w.reason])) };
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
    const { parsed, warned } = crossbar(fixture('crossbar-init.json'));
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
    const { parsed, warned } = crossbar(fixture('crossbar-auth.json'));
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
    assert.deepEqual(Object.keys(parsed.wamp.auth.wampcra!.users), ['joe']);
    assert.deepEqual(parsed.wamp.auth.cryptosign?.principals.deployer?.authorized_keys, [
      '1adfc8bfe1d35616e64dffbd900096f23b066f914c8c2ffbb66f6075b96e116d',
    ]);
    const auth = 'workers.0.transports.0.paths.ws.auth';
    assert.match(warned.get(`${auth}.wampcra.users.peter`)!, /salted/);
    assert.match(warned.get(`${auth}.ticket.principals.worker-2.ticket`)!, /WORKER2_TICKET/);
    assert.match(warned.get('workers.0.transports.1.auth.wampcra')!, /dynamic authenticator/);
    assert.match(
      warned.get('workers.0.transports.1.auth.cryptosign.principals.deployer.realm')!,
      /every realm/,
    );
    assert.match(warned.get('workers.0.realms.0.roles.3.authorizer')!, /dynamic authorizer/);
    assert.match(warned.get('workers.0.transports.1')!, /one port and path/);
    assert.ok(warned.has('workers.0.options'));
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
    assert.match(warned.get('workers.0.transports.0.auth.ticket.principals.c')!, /without a role/);
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
});
