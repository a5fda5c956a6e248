import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { readEnvFile } from '../../../src/import/env-file.js';
import { importConfig } from '../../../src/import/import.js';
import { ImportError } from '../../../src/import/notes.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../../test/fixtures/import/${name}`, import.meta.url), 'utf8');

function reverb(text: string) {
  const { config, notes: warnings } = importConfig('reverb', text, '.env');
  return { parsed: parseConfig(config), warned: new Map(warnings.map((w) => [w.setting, w.reason])) };
}

const CREDENTIALS = 'REVERB_APP_ID=1\nREVERB_APP_KEY=k\nREVERB_APP_SECRET=s\n';

describe('Reverb .env', () => {
  test("a Laravel app's .env: the REVERB_ variables and, with scaling, its Redis", () => {
    const { parsed, warned } = reverb(fixture('reverb.env'));
    assert.deepEqual([parsed.host, parsed.port], ['0.0.0.0', 8080]);
    assert.equal(parsed.activityTimeoutSeconds, 60);
    assert.equal(parsed.maxMessageBytes, 20_000);
    const [app] = parsed.apps;
    assert.deepEqual(
      [app!.id, app!.key, app!.secret],
      ['714235', 'vkzt2ha1xoqbmwbbnoal', 'k0mlz5azzfd3cmi3ywgv'],
    );
    assert.equal(app!.maxConnections, 5000);
    assert.equal(app!.clientEvents, true, 'Reverb accepts client events from members by default');
    // REDIS_PASSWORD=null is unset, as Laravel's env() reads it.
    assert.deepEqual(
      [parsed.adapter.driver, parsed.adapter.url, parsed.adapter.prefix],
      ['redis', 'redis://10.0.0.5:6379/1', 'shop-reverb'],
    );
    assert.deepEqual(
      [...warned.keys()],
      [
        'REVERB_HOST',
        'REVERB_PORT',
        'REVERB_SCHEME',
        'REVERB_APP_PING_INTERVAL',
        'REVERB_PULSE_INGEST_INTERVAL',
      ],
    );
  });

  test("Reverb's defaults: port 8080, no adapter; REDIS_* of the app skipped without scaling", () => {
    const { parsed, warned } = reverb(`${CREDENTIALS}REDIS_HOST=cache\nREVERB_SCALING_ENABLED=false\n`);
    assert.equal(parsed.port, 8080);
    assert.equal(parsed.adapter.driver, 'memory');
    assert.equal(warned.size, 0);
  });

  test('REDIS_URL, a path, refused client events, rate limiting and unknown variables', () => {
    const { parsed, warned } = reverb(
      `${CREDENTIALS}REVERB_SCALING_ENABLED=true\nREDIS_URL=rediss://u:p@redis.internal:6380/4\n` +
        'REVERB_SERVER_PATH=reverb/\nREVERB_APP_ACCEPT_CLIENT_EVENTS_FROM=none\n' +
        'REVERB_APP_RATE_LIMITING_ENABLED=true\nREVERB_APP_RATE_LIMIT_MAX_ATTEMPTS=30\nREVERB_APP_MAX_CONECTIONS=5\n',
    );
    assert.equal(parsed.adapter.url, 'rediss://u:p@redis.internal:6380/4');
    assert.equal(parsed.pathPrefix, '/reverb');
    assert.equal(parsed.apps[0]!.clientEvents, false);
    assert.ok(warned.has('REVERB_APP_RATE_LIMITING_ENABLED'));
    assert.ok(warned.has('REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS'));
    assert.match(warned.get('REVERB_APP_MAX_CONECTIONS')!, /not a variable config\/reverb.php reads/);
  });

  test('a file without the app credentials is not the .env of a Reverb app', () => {
    assert.throws(
      () => importConfig('reverb', 'APP_NAME=Shop\nREVERB_APP_KEY=k\n', '.env'),
      (err) => {
        assert.ok(err instanceof ImportError);
        assert.match(err.message, /REVERB_APP_ID, REVERB_APP_SECRET/);
        return true;
      },
    );
  });
});

/** `${name}`, a reference to another variable of a .env file. */
const ref = (name: string) => `\${${name}}`;

describe('.env files', () => {
  test('quotes, comments, export, and references to other variables of the file', () => {
    const { values, unresolved } = readEnvFile(
      [
        '# comment',
        'export A=1',
        'B="two words" # trailing',
        `D=${ref('B')}-${ref('A')}`,
        `E=${ref('MISSING')}`,
        `F=${ref('G')}`,
        `G=${ref('F')}`,
      ].join('\n'),
      '.env',
    );
    assert.equal(values.get('A'), '1');
    assert.equal(values.get('B'), 'two words');
    assert.equal(values.get('D'), 'two words-1');
    assert.equal(values.get('E'), ref('MISSING'));
    assert.deepEqual([...unresolved].sort(), ['E', 'F', 'G']);
  });

  test('references cost linear time: a file that doubles at every step stays as written', () => {
    const lines = ['V0=xxxxxxxxxxxxxxxx'];
    for (let i = 1; i < 40; i++) lines.push(`V${i}=${ref(`V${i - 1}`)}${ref(`V${i - 1}`)}`);
    const { values } = readEnvFile(lines.join('\n'), '.env');
    assert.ok([...values.values()].every((v) => v.length <= 65_536));
  });
});
