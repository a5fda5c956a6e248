import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { importConfig, type Peer } from '../../src/import/import.js';
import { ImportError } from '../../src/import/notes.js';
import { SOKETI_ENV } from '../../src/import/soketi-env.js';
import { anyJson, fuzz, nestedJsonText } from './harness.js';

/**
 * `herald import`: whatever a peer's file holds, the importer answers with a configuration Herald's
 * schema accepts (and that prints as JSON and YAML), or an `ImportError`; never anything else.
 * Inputs are built from each peer's own setting names, so that the cases reach the mappings rather
 * than stopping at "not that peer's file".
 */

/** A value a setting may hold: the peer's own kinds, and anything at all. */
const value = fc.oneof(
  { weight: 3, arbitrary: anyJson() },
  { weight: 2, arbitrary: fc.integer({ min: -2, max: 70_000 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(true, false, null, '', 'true', '-1', '6001', '127.0.0.1', '*', `\${X}`),
  },
);

const soketiPath = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...Object.values(SOKETI_ENV)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'appManager.array.apps.0',
      'appManager.array.apps.1.webhooks',
      '__proto__.x',
      'a..b',
      'host',
      'metrics.host',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const soketiApp = fc.dictionary(
  fc.constantFrom(
    'id',
    'key',
    'secret',
    'AppKey',
    'max_connections',
    'enableClientMessages',
    'maxEventPayloadInKb',
    'webhooks',
    'name',
    '__proto__',
  ),
  fc.oneof(
    value,
    fc.array(fc.record({ url: value, event_types: fc.array(value), filter: value }, { requiredKeys: [] })),
  ),
);
const soketiFile = fc.oneof(
  fc.dictionary(soketiPath, value, { maxKeys: 12 }).map((o) => JSON.stringify(o)),
  fc.array(soketiApp, { maxLength: 4 }).map((apps) => JSON.stringify({ 'appManager.array.apps': apps })),
  fc
    .array(fc.tuple(fc.constantFrom(...Object.keys(SOKETI_ENV), 'NOPE'), value), { maxLength: 12 })
    .map((lines) => lines.map(([k, v]) => `SOKETI_${k}=${JSON.stringify(v) ?? ''}`).join('\n')),
);

const REVERB = [
  'REVERB_APP_ID',
  'REVERB_APP_KEY',
  'REVERB_APP_SECRET',
  'REVERB_SERVER_HOST',
  'REVERB_SERVER_PORT',
  'REVERB_SERVER_PATH',
  'REVERB_APP_MAX_CONNECTIONS',
  'REVERB_APP_MAX_MESSAGE_SIZE',
  'REVERB_APP_ACTIVITY_TIMEOUT',
  'REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM',
  'REVERB_SCALING_ENABLED',
  'REVERB_SCALING_CHANNEL',
  'REDIS_URL',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_DB',
  'REDIS_PASSWORD',
  'REVERB_MAX_REQUEST_SIZE',
  'OTHER',
];
const reverbFile = fc
  .array(
    fc.tuple(
      fc.constantFrom(...REVERB),
      fc.oneof(
        value.map((v) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))),
        fc.string({ maxLength: 20 }),
      ),
    ),
    { maxLength: 20 },
  )
  .map((lines) =>
    [
      'REVERB_APP_ID=1',
      'REVERB_APP_KEY=k',
      'REVERB_APP_SECRET=s',
      ...lines.map(([k, v]) => `${k}=${v}`),
    ].join('\n'),
  );

const permission = fc.record(
  {
    uri: value,
    match: fc.oneof(fc.constantFrom('exact', 'prefix', 'wildcard'), value),
    allow: fc.oneof(fc.record({ call: value, publish: fc.boolean() }), value),
    disclose: value,
    cache: value,
  },
  { requiredKeys: [] },
);
const realm = fc.record(
  {
    name: fc.oneof(fc.constantFrom('realm1', 'com.example', '1x', '__proto__'), value),
    roles: fc.oneof(
      fc.array(
        fc.record(
          {
            name: fc.oneof(fc.constantFrom('anonymous', 'backend'), value),
            permissions: fc.oneof(fc.array(permission, { maxLength: 3 }), value),
            authorizer: value,
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      value,
    ),
    options: fc.oneof(fc.record({ uri_check: value }), value),
  },
  { requiredKeys: [] },
);
const principals = fc.dictionary(
  fc.constantFrom('joe', 'ann', '__proto__', 'constructor', ''),
  fc.oneof(
    fc.record(
      {
        ticket: value,
        secret: value,
        role: fc.oneof(fc.constantFrom('anonymous', 'backend'), value),
        salt: value,
        authorized_keys: fc.oneof(
          fc.constant(['1adfc8bfe1d35616e64dffbd900096f23b066f914c8c2ffbb66f6075b96e116d']),
          value,
        ),
      },
      { requiredKeys: [] },
    ),
    value,
  ),
);
const auth = fc.dictionary(
  fc.constantFrom('anonymous', 'ticket', 'wampcra', 'cryptosign', 'cookie', 'scram'),
  fc.oneof(
    fc.record(
      {
        type: fc.oneof(fc.constantFrom('static', 'dynamic'), value),
        role: value,
        principals,
        users: principals,
        authenticator: value,
      },
      { requiredKeys: [] },
    ),
    value,
  ),
);
const endpoint = fc.oneof(
  fc.record(
    {
      type: fc.oneof(fc.constant('tcp'), value),
      port: value,
      interface: value,
      tls: fc.oneof(fc.record({ key: value, certificate: value, chain_certificates: value }), value),
    },
    { requiredKeys: [] },
  ),
  value,
);
const transport = fc.record(
  {
    type: fc.oneof(fc.constantFrom('websocket', 'web', 'universal', 'rawsocket', 'mqtt'), value),
    endpoint,
    auth: fc.oneof(auth, value),
    options: fc.oneof(
      fc.record(
        {
          max_message_size: value,
          allowed_origins: fc.oneof(fc.array(value), value),
          allow_null_origin: value,
        },
        { requiredKeys: [] },
      ),
      value,
    ),
    serializers: fc.oneof(fc.array(fc.constantFrom('json', 'msgpack', 'cbor')), value),
    paths: fc.oneof(
      fc.dictionary(
        fc.constantFrom('ws', '/', 'a/b', '__proto__'),
        fc.oneof(
          fc.record({ type: fc.constantFrom('websocket', 'static'), auth: fc.oneof(auth, value) }),
          value,
        ),
      ),
      value,
    ),
    websocket: fc.oneof(
      fc.dictionary(
        fc.constantFrom('ws', 'wamp'),
        fc.oneof(fc.record({ type: fc.constant('websocket'), auth }), value),
      ),
      value,
    ),
  },
  { requiredKeys: [] },
);
const crossbarFile = fc
  .record(
    {
      version: value,
      controller: value,
      workers: fc.oneof(
        fc.array(
          fc.record(
            {
              type: fc.oneof(fc.constantFrom('router', 'container'), value),
              realms: fc.oneof(fc.array(realm, { maxLength: 3 }), value),
              transports: fc.oneof(fc.array(transport, { maxLength: 3 }), value),
              options: value,
            },
            { requiredKeys: [] },
          ),
          { maxLength: 3 },
        ),
        value,
      ),
    },
    { requiredKeys: [] },
  )
  .map((o) => JSON.stringify(o));

/** Text no peer wrote: anything, broken JSON, deep nesting. */
const noise = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  anyJson().map((v) => JSON.stringify(v) ?? ''),
  fc.integer({ min: 100, max: 5000 }).map((depth) => `{"workers": ${nestedJsonText(depth)}}`),
);

/** One case: either a configuration Herald accepts, or an ImportError; the output prints both ways. */
function check(peer: Peer, text: string, file: string): void {
  try {
    const { config, notes: warnings } = importConfig(peer, text, file);
    parseConfig(config);
    assert.doesNotThrow(() => JSON.stringify(config));
    assert.doesNotThrow(() => stringify(config, { aliasDuplicateObjects: false }));
    for (const w of warnings) assert.ok(typeof w.setting === 'string' && typeof w.reason === 'string');
  } catch (err) {
    if (!(err instanceof ImportError)) throw err;
    assert.ok(err.message.length > 0);
  }
}

describe('herald import', () => {
  const peers: [Peer, fc.Arbitrary<string>, string][] = [
    ['soketi', soketiFile, 'config.json'],
    ['reverb', reverbFile, '.env'],
    ['crossbar', crossbarFile, 'config.json'],
  ];
  for (const [peer, file, name] of peers) {
    test(`${peer}: any file gives a valid configuration or an ImportError`, async () => {
      await fuzz(
        `import ${peer}`,
        300,
        [fc.oneof({ weight: 4, arbitrary: file }, { weight: 1, arbitrary: noise })],
        async (text) => check(peer, text, name),
      );
    });
  }
});
