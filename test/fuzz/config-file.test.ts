import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, type ConfigWarning, loadConfig } from '../../src/config/load.js';
import { crossbarNode, wellFormedNode } from './crossbar-node.js';
import { anyJson, fuzz, nestedJsonText } from './harness.js';

/**
 * Configuration files (`--config`, JSON or YAML): whatever a file holds, the loader answers with a
 * valid configuration or a `ConfigError` whose problems are one line each, never anything else.
 */

/** Settings and values near the schema's: what an operator's file may get wrong. */
const knownKey = fc.constantFrom(
  'port',
  'host',
  'apps',
  'id',
  'key',
  'secret',
  'webhooks',
  'url',
  'wamp',
  'realms',
  'name',
  'adapter',
  'driver',
  'logFormat',
  'logFrames',
  '__proto__',
  'constructor',
  '',
);
const settingKey = fc.oneof({ weight: 4, arbitrary: knownKey }, fc.string({ unit: 'binary', maxLength: 6 }));
const settings = fc.dictionary(
  settingKey,
  fc.oneof(
    anyJson(),
    fc.dictionary(settingKey, anyJson(), { maxKeys: 4 }),
    fc.array(fc.dictionary(settingKey, anyJson())),
  ),
  { maxKeys: 6 },
);

/** YAML syntax in pieces: indentation, anchors, aliases, tags, flow and block collections, directives. */
const yamlToken = fc.oneof(
  fc.constantFrom(
    '\n',
    '\n  ',
    '\n    ',
    '- ',
    ': ',
    '&a ',
    '*a',
    '*b',
    '!!str ',
    '!!binary ',
    '!custom ',
    '? ',
    '{',
    '}',
    '[',
    ']',
    ', ',
    '|',
    '>-',
    '"',
    "'",
    '#',
    '---\n',
    '...\n',
    '%YAML 1.1\n',
    '%TAG ! tag:x,2000:\n',
    '<<: *a',
    '\t',
    '.inf',
    '-.nan',
    '0x1F',
    '1e400',
    '~',
    '\ufeff',
  ),
  settingKey,
  fc.string({ maxLength: 8 }),
);
const yamlText = fc.array(yamlToken, { maxLength: 60 }).map((tokens) => tokens.join(''));

const contents = fc.oneof(
  { weight: 2, arbitrary: yamlText },
  { weight: 2, arbitrary: settings.map((s) => stringify(s)) },
  { weight: 2, arbitrary: settings.map((s) => JSON.stringify(s)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        settings.map((s) => JSON.stringify(s, null, 2)),
        fc.nat(),
        fc.string({ maxLength: 4 }),
      )
      .map(
        ([text, at, junk]) =>
          text.slice(0, at % (text.length + 1)) + junk + text.slice(at % (text.length + 1)),
      ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 400 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 100, max: 20_000 }), fc.constantFrom('array' as const, 'object' as const))
      .map(([depth, kind]) => `port: 1\napps: ${nestedJsonText(depth, kind)}\n`),
  },
);

describe('config files', () => {
  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-config-fuzz-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('any content gives a valid configuration or a ConfigError of one-line problems', async () => {
    await fuzz(
      'config file',
      300,
      [contents, fc.constantFrom('.yaml', '.yml', '.json')],
      async (text, ext) => {
        const path = join(dir, `case-${n++}${ext}`);
        await writeFile(path, text);
        try {
          const config = await loadConfig({ file: path, env: {} });
          assert.ok(Object.isFrozen(config));
          assert.ok(config.apps.length >= 1);
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          assert.ok(err.problems.length > 0);
          for (const problem of err.problems) {
            assert.equal(typeof problem, 'string');
            assert.doesNotMatch(problem, /\n/, problem);
          }
        } finally {
          await rm(path);
        }
      },
    );
  });

  test('a Crossbar.io node configuration (version 2, a workers list): a valid configuration or a clean refusal', async () => {
    await fuzz(
      'crossbar node config',
      200,
      [
        fc.oneof(
          wellFormedNode,
          crossbarNode.map((node) => ({
            ...node,
            version: 2,
            workers: Array.isArray(node.workers) ? node.workers : [node.workers],
          })),
        ),
        fc.constantFrom('.json', '.yaml'),
      ],
      async (node, ext) => {
        const path = join(dir, `crossbar-${n++}${ext}`);
        await writeFile(path, ext === '.json' ? JSON.stringify(node) : stringify(node));
        const warnings: ConfigWarning[] = [];
        try {
          const config = await loadConfig({ file: path, env: { X: 'from-env' }, warnings });
          assert.ok(Object.isFrozen(config));
          assert.ok(config.wamp.realms.length >= 1);
          for (const w of warnings) assert.ok(w.file === path && w.setting !== '' && w.reason !== '');
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          assert.ok(err.problems.length > 0);
          for (const problem of err.problems) assert.doesNotMatch(problem, /\n/, problem);
        } finally {
          await rm(path);
        }
      },
    );
  });
});
