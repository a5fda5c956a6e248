import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { finished, GUARD_MS, killRuns, pusherJs, started } from '../helpers/cli.js';
import { connected } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';

/** `herald start --config` with YAML files, through the real CLI. */

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'herald-cli-config-'));
});
after(async () => {
  killRuns();
  await rm(dir, { recursive: true, force: true });
});

describe('--config with YAML', () => {
  test('a YAML file configures the server as its JSON equivalent would', async () => {
    const file = join(dir, 'herald.yml');
    await writeFile(file, 'apps:\n  - id: yaml-id\n    key: yaml-key\n    secret: yaml-secret\n');
    const { run, port } = await started(['--config', file]);
    const client = pusherJs(port, 'yaml-key');
    try {
      await within(connected(client), GUARD_MS, 'pusher-js with the YAML key');
      assert.match(run.stdout(), /\/apps\/yaml-id\/events/);
    } finally {
      client.disconnect();
      run.child.kill('SIGTERM');
      await within(run.exited, GUARD_MS, 'herald to exit');
    }
  });

  test('malformed YAML, and bad settings in it: exit 2, the file and the line named', async () => {
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'port: 7000\napps:\n  - id: one\n    key: [unclosed\n');
    const syntax = await finished(['start', '--config', broken]);
    assert.equal(syntax.code, 2);
    assert.match(
      syntax.stderr,
      new RegExp(
        `${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid YAML at line \\d+, column \\d+: `,
      ),
    );

    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'listenPort: 7000\nactivityTimeoutSeconds: soon\n');
    const settings = await finished(['start', '--config', bad]);
    assert.equal(settings.code, 2);
    assert.match(settings.stderr, /^\s*listenPort: .*unrecognized.* \(.*bad\.yaml, line 1\)$/im);
    assert.match(
      settings.stderr,
      /^\s*activityTimeoutSeconds: .*expected number.* \(.*bad\.yaml, line 2\)$/im,
    );
    assert.doesNotMatch(settings.stdout, /listening/);
  });
});
