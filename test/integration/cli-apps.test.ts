import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { finished, killRuns } from '../helpers/cli.js';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';

/**
 * `herald apps`, the real binary: on PostgreSQL and MariaDB tables of its own, and through a running
 * Herald's app management API (`--api-url`).
 */

const TOKEN = 'cli-apps-test-token-0123456789abcdef0123';

after(() => killRuns());

/** `herald apps <args>` run to its end. */
const apps = (args: string[], env: Record<string, string> = {}) => finished(['apps', ...args], env);

/** The JSON a successful `--json` run printed, with nothing on stderr. */
function json<T = Record<string, unknown>>(run: { code: number | null; stdout: string; stderr: string }): T {
  assert.equal(run.stderr, '');
  assert.equal(run.code, 0, run.stdout);
  return JSON.parse(run.stdout) as T;
}

/** A refusal: exit 1, nothing on stdout, one line on stderr (what `message` matches). */
function refused(run: { code: number | null; stdout: string; stderr: string }, message: RegExp): void {
  assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, message);
}

describe('herald apps --api-url, on a server whose apps come from its config file', () => {
  let server: TestHerald;
  let remote: string[];

  before(async () => {
    server = await startHerald({ api: { port: 0, token: TOKEN } });
    remote = ['--api-url', server.apiUrl!, '--api-token', TOKEN];
  });
  after(() => server?.stop());

  test("list and show print the server's apps", async () => {
    const listed = json<{ id: string }[]>(await apps(['list', '--json', ...remote]));
    assert.deepEqual(
      listed.map((a) => a.id),
      [APP.id],
    );
    const table = await apps(['list', ...remote]);
    assert.equal(table.code, 0);
    assert.match(table.stdout, /^app-id {2}app-key {2}yes {6}unlimited {7}0$/m);
    const shown = json(await apps(['show', APP.id, '--json', ...remote]));
    assert.equal(shown.secret, APP.secret);
  });

  test('HERALD_API_URL and HERALD_API_TOKEN do what the flags do', async () => {
    const run = await apps(['show', APP.id], { HERALD_API_URL: server.apiUrl!, HERALD_API_TOKEN: TOKEN });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^key {2,}app-key$/m);
  });

  test("a change is refused with the server's word that its store is read-only", async () => {
    refused(
      await apps(['disable', APP.id, ...remote]),
      /^herald apps: apps come from the config file, which is read-only: edit it and restart/,
    );
    refused(await apps(['create', '--json', ...remote]), /which is read-only/);
  });

  test('an unknown app, a wrong token, a listener without the API: exit 1, each said', async () => {
    refused(
      await apps(['show', 'nope', ...remote]),
      new RegExp(`^herald apps: no app with id nope in Herald at ${server.apiUrl}\\n$`),
    );
    refused(
      await apps(['list', '--api-url', server.apiUrl!, '--api-token', `${TOKEN}x`]),
      /refused the token \(401: .*\): give its api\.token with --api-token or HERALD_API_TOKEN\n$/,
    );
    refused(
      await apps(['list', '--api-url', server.httpUrl, '--api-token', TOKEN]),
      /has no app management API \(GET \/herald\/apps answered 404\)/,
    );
  });

  test('invalid fields come back one per line, as the server named them', async () => {
    const run = await apps(['create', '--set', 'maxConnections=0', '--set', 'colour=red', ...remote]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^herald apps: invalid app:\n {2}maxConnections: .*\n {2}colour: .*\n$/);
  });
});
