import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { configSchema } from '../../../src/config/schema.js';

/** The files of deploy/: the systemd unit, checked by systemd itself, and the Dockerfile's shape. */

const run = promisify(execFile);
const deploy = (name: string) => readFile(new URL(`../../../../deploy/${name}`, import.meta.url), 'utf8');
const DEFAULTS = configSchema.parse({});
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
/** Where the unit expects `npm install -g` to have put the command. */
const EXEC = '/usr/local/bin/herald';

/** Why the systemd checks skip, or false when they run (always under CI=true). */
const systemdSkip =
  existsSync(SYSTEMD_ANALYZE) || process.env.CI === 'true'
    ? false
    : 'systemd-analyze is not installed (apt-get install systemd)';

/** `Key=value` settings of a unit file or `KEY args` instructions, comments and blank lines left out. */
const lines = (text: string) =>
  text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

describe('deploy/herald.service', () => {
  let unit: string;
  let settings: Map<string, string[]>;
  let dir: string;

  before(async () => {
    unit = await deploy('herald.service');
    settings = new Map();
    for (const line of lines(unit)) {
      const eq = line.indexOf('=');
      if (eq < 0) continue;
      const key = line.slice(0, eq);
      settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1)]);
    }
    dir = await mkdtemp(join(tmpdir(), 'herald-unit-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const one = (key: string) => {
    const values = settings.get(key);
    assert.equal(values?.length, 1, `${key} is set ${values?.length ?? 0} times`);
    return values![0]!;
  };

  test('runs herald start as a user of its own, restarts on failure, stops with SIGTERM', () => {
    assert.equal(one('User'), 'herald');
    assert.equal(one('Group'), 'herald');
    assert.match(one('ExecStart'), new RegExp(`^${EXEC} start `));
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('KillSignal'), 'SIGTERM');
    // A configuration with problems exits 2: restarting it cannot help.
    assert.equal(one('RestartPreventExitStatus'), '2');
  });

  test("TimeoutStopSec covers the graceful stop with the schema's defaults", () => {
    // What Herald.stop() waits for at most: the clients (twice shutdownTimeoutMs), the webhooks, the
    // outbox and the goodbye to the other nodes (adapter.requestTimeoutMs each); and on top the vacate
    // delay, the window in which the other nodes hold this node's clients for their return.
    const stopMs =
      2 * DEFAULTS.shutdownTimeoutMs +
      DEFAULTS.webhooks.flushTimeoutMs +
      2 * DEFAULTS.adapter.requestTimeoutMs +
      DEFAULTS.webhooks.vacateDelayMs;
    const timeout = Number(one('TimeoutStopSec'));
    assert.ok(timeout * 1000 > stopMs, `TimeoutStopSec=${timeout} is under ${stopMs} ms`);
  });

  test('is hardened: no privileges, a read-only system, no capabilities', () => {
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['PrivateDevices', 'yes'],
      ['CapabilityBoundingSet', ''],
    ] as const) {
      assert.equal(one(key), value, key);
    }
    // V8 writes machine code at run time.
    assert.equal(settings.has('MemoryDenyWriteExecute'), false);
  });

  /** The unit with its command pointed at an executable that exists here, as verify requires. */
  async function checkable(): Promise<string> {
    const exec = join(dir, 'herald');
    await writeFile(exec, '#!/bin/sh\n');
    await chmod(exec, 0o755);
    const file = join(dir, 'herald.service');
    await writeFile(file, unit.replaceAll(EXEC, exec));
    return file;
  }

  test('systemd-analyze verify finds nothing to say', { skip: systemdSkip }, async () => {
    const { stdout, stderr } = await run(SYSTEMD_ANALYZE, ['verify', await checkable()]);
    // Unknown keys and bad values are warnings on stderr with exit code 0: none is allowed.
    assert.equal(stderr, '');
    assert.equal(stdout, '');
  });

  test('systemd-analyze security rates the exposure low', { skip: systemdSkip }, async () => {
    // Exposure runs from 0 (locked down) to 10 (unprotected); --threshold takes it times ten.
    const { stdout } = await run(SYSTEMD_ANALYZE, [
      'security',
      '--offline=true',
      '--threshold=20',
      await checkable(),
    ]);
    assert.match(stdout, /Overall exposure level for herald\.service: [01]\.\d/);
  });
});

describe('deploy/herald.socket', () => {
  let unit: string;
  let dir: string;

  before(async () => {
    unit = await deploy('herald.socket');
    dir = await mkdtemp(join(tmpdir(), 'herald-socket-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("listens on the default port for herald.service, as its public socket, with Herald's backlog", () => {
    const settings = lines(unit);
    assert.ok(settings.includes(`ListenStream=${DEFAULTS.port}`));
    assert.ok(settings.includes('FileDescriptorName=public'));
    assert.ok(settings.includes('Backlog=4096'));
    // The service of the same name gets the socket; a restart of it must not take the socket along.
    assert.ok(!settings.some((l) => /^(Service|PartOf|BindsTo)=/.test(l)));
  });

  test('systemd-analyze verify finds nothing to say, with herald.service next to it', {
    skip: systemdSkip,
  }, async () => {
    const exec = join(dir, 'herald');
    await writeFile(exec, '#!/bin/sh\n');
    await chmod(exec, 0o755);
    await writeFile(join(dir, 'herald.service'), (await deploy('herald.service')).replaceAll(EXEC, exec));
    const file = join(dir, 'herald.socket');
    await writeFile(file, unit);
    const { stdout, stderr } = await run(SYSTEMD_ANALYZE, ['verify', file, join(dir, 'herald.service')]);
    assert.equal(stderr, '');
    assert.equal(stdout, '');
  });
});

describe('deploy/Dockerfile', () => {
  let stages: string[][];

  before(async () => {
    const instructions = lines(await deploy('Dockerfile'));
    stages = [];
    for (const line of instructions) {
      if (/^FROM\s/i.test(line)) stages.push([]);
      stages.at(-1)?.push(line);
    }
  });

  test('builds in one stage and runs from another that copies the result', () => {
    assert.ok(stages.length >= 2, `${stages.length} stage(s)`);
    assert.match(stages[0]![0]!, /^FROM node:\S+ AS build$/);
    const final = stages.at(-1)!;
    assert.ok(final.some((l) => /^COPY --from=build /.test(l)));
    // The build stage packs and installs, as the package test does; the final stage installs nothing.
    assert.ok(stages[0]!.some((l) => /npm pack/.test(l) && /npm install --global/.test(l)));
    assert.ok(!final.some((l) => /^RUN .*npm (ci|install)/.test(l)));
  });

  test('runs as a user that is not root', () => {
    const users = stages.at(-1)!.filter((l) => /^USER\s/.test(l));
    assert.ok(users.length > 0, 'the final stage sets no USER');
    assert.doesNotMatch(users.at(-1)!, /^USER\s+(root|0)(:|$)/);
  });

  test('checks /ready on the default port, exposes it and stops with SIGTERM', () => {
    const final = stages.at(-1)!;
    const health = final.find((l) => /^HEALTHCHECK\s/.test(l));
    assert.ok(health, 'no HEALTHCHECK');
    assert.match(health, /\/ready/);
    assert.match(health, new RegExp(`\\b${DEFAULTS.port}\\b`));
    assert.ok(final.includes(`EXPOSE ${DEFAULTS.port}`));
    assert.ok(final.includes('STOPSIGNAL SIGTERM'));
    assert.ok(final.includes('ENTRYPOINT ["herald"]'));
  });
});
