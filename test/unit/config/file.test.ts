import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfigText } from '../../../src/config/file.js';
import { ConfigError, loadConfig, parseConfig } from '../../../src/config/load.js';

/** The problems `loadConfig` refuses the file with. */
async function problemsOf(load: Promise<unknown>): Promise<readonly string[]> {
  try {
    await load;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

const YAML = `# Herald
port: 7000
logLevel: warn
apps:
  - id: one
    key: key-one
    secret: secret-one
    clientEvents: true
    webhooks:
      - url: https://example.com/hooks
        events: [channel_occupied]
wamp:
  realms:
    - name: realm1
`;

describe('config files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-config-file-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function file(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  test('.yaml and .yml hold the same settings as the JSON file', async () => {
    const json = JSON.stringify({
      port: 7000,
      logLevel: 'warn',
      apps: [
        {
          id: 'one',
          key: 'key-one',
          secret: 'secret-one',
          clientEvents: true,
          webhooks: [{ url: 'https://example.com/hooks', events: ['channel_occupied'] }],
        },
      ],
      wamp: { realms: [{ name: 'realm1' }] },
    });
    const fromJson = await loadConfig({ file: await file('herald.json', json), env: {} });
    assert.equal(fromJson.port, 7000);
    assert.deepEqual(await loadConfig({ file: await file('herald.yaml', YAML), env: {} }), fromJson);
    assert.deepEqual(await loadConfig({ file: await file('herald.YML', YAML), env: {} }), fromJson);
  });

  test('a YAML file of comments only sets nothing; a BOM is fine', async () => {
    assert.deepEqual(
      await loadConfig({ file: await file('empty.yaml', '# nothing yet\n'), env: {} }),
      parseConfig({}),
    );
    assert.equal(
      (await loadConfig({ file: await file('bom.json', '\ufeff{"port": 7001}'), env: {} })).port,
      7001,
    );
    assert.equal(
      (await loadConfig({ file: await file('bom.yaml', '\ufeffport: 7002'), env: {} })).port,
      7002,
    );
  });

  test('a file of another name is JSON, as before', async () => {
    const problems = await problemsOf(loadConfig({ file: await file('herald.conf', 'port: 7000'), env: {} }));
    assert.match(problems[0]!, /herald\.conf: not valid JSON at line 1, column 1: unexpected "p"/);
  });

  test('malformed JSON: the file, the line and the column', async () => {
    const path = await file('broken.json', '{\n  "port": 7000,\n  "host": \n}\n');
    assert.deepEqual(await problemsOf(loadConfig({ file: path, env: {} })), [
      `${path}: not valid JSON at line 4, column 1: unexpected "}" where a value belongs`,
    ]);
  });

  test('malformed YAML: the file and the line of each error', async () => {
    const path = await file('broken.yaml', 'port: 7000\napps:\n  - id: one\n   key: two\nhost: [a, b\n');
    const problems = await problemsOf(loadConfig({ file: path, env: {} }));
    assert.ok(problems.length >= 1);
    for (const problem of problems) {
      assert.match(problem, new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    }
    assert.match(problems[0]!, /: not valid YAML at line 4, column \d+: /);
  });

  test('duplicate keys, a top level that is no mapping, and alias bombs are refused', async () => {
    const duplicate = await file('duplicate.yaml', 'port: 1\nport: 2\n');
    assert.match((await problemsOf(loadConfig({ file: duplicate, env: {} })))[0]!, /line 2, column 1: /);
    const list = await file('list.yaml', '- port: 1\n');
    assert.deepEqual(await problemsOf(loadConfig({ file: list, env: {} })), [
      `${list}: must hold a YAML mapping of settings`,
    ]);
    const laughs = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    for (let i = 0; i < 9; i++) {
      const [x, y] = [String.fromCharCode(97 + i), String.fromCharCode(98 + i)];
      laughs.push(`${y}: &${y} [${Array(9).fill(`*${x}`).join(', ')}]`);
    }
    const bomb = await file('bomb.yaml', `${laughs.join('\n')}\n`);
    assert.match((await problemsOf(loadConfig({ file: bomb, env: {} })))[0]!, /bomb\.yaml: not usable YAML/);
  });

  test('a bad setting the file wrote names the file and its line; one from the environment does not', async () => {
    const path = await file(
      'bad.yaml',
      [
        'listenPort: 7000',
        'activityTimeoutSeconds: soon',
        'apps:',
        '  - id: one',
        '    key: same-key',
        '    secret: s1',
        '  - id: two',
        '    key: same-key',
        '    secret: ""',
        '',
      ].join('\n'),
    );
    const problems = await problemsOf(
      loadConfig({ file: path, env: { HERALD_MAX_MESSAGE_BYTES: '-1', HERALD_APP_SECRET: 'x' } }),
    );
    const at = (field: string) => problems.find((p) => p.startsWith(`${field}: `));
    assert.match(
      at('listenPort')!,
      new RegExp(`\\(${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, line 1\\)$`),
    );
    assert.match(at('activityTimeoutSeconds')!, /, line 2\)$/);
    assert.match(
      at('apps.1.key')!,
      /^apps\.1\.key: duplicate app key "same-key" \(also apps\.0\.key\) \(.*, line 8\)$/,
    );
    assert.match(at('apps.1.secret')!, /, line 9\)$/);
    assert.doesNotMatch(at('maxMessageBytes')!, /line/);
  });

  test('a JSON file locates its settings the same way', async () => {
    const path = await file(
      'bad.json',
      '{\n  "port": 7000,\n  "apps": [\n    {"id": "a", "key": "k", "secret": 5}\n  ]\n}\n',
    );
    const problems = await problemsOf(loadConfig({ file: path, env: {} }));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^apps\.0\.secret: .* \(.*bad\.json, line 4\)$/);
  });

  test('parseConfigText reads the format from the name', () => {
    const problems: string[] = [];
    assert.deepEqual(parseConfigText('x.yml', 'port: 1', problems)?.settings, { port: 1 });
    assert.deepEqual(parseConfigText('x.json', '{"port": 1}', problems)?.settings, { port: 1 });
    assert.equal(parseConfigText('x.json', 'port: 1', problems), undefined);
    assert.equal(problems.length, 1);
  });
});
