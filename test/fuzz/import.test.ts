import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { importConfig, type Peer } from '../../src/import/import.js';
import { ImportError } from '../../src/import/notes.js';
import { SOKETI_ENV } from '../../src/import/soketi-env.js';
import { crossbarNode, value } from './crossbar-node.js';
import { anyJson, fuzz, nestedJsonText } from './harness.js';

/**
 * `herald import`: whatever a peer's file holds, the importer answers with a configuration Herald's
 * schema accepts (and that prints as JSON and YAML), or an `ImportError`; never anything else.
 * Inputs are built from each peer's own setting names, so that the cases reach the mappings rather
 * than stopping at "not that peer's file".
 */

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

const crossbarFile = crossbarNode.map((o) => JSON.stringify(o));

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
