import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, Server } from '../helpers/brokers.js';
import { within } from '../helpers/raw-client.js';

/**
 * A broker that lacks what Herald needs stops the start with an actionable message and exit code 1,
 * instead of a node that answers `/ready` 200 and then refuses every presence subscription
 * (docs/clustering.md).
 */

const BIN = fileURLToPath(new URL('../../../bin/herald.js', import.meta.url));

/** Runs `herald start` to its end; a node that starts instead is killed and reported. */
async function runStart(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_') && k !== 'NODE_TEST_CONTEXT'),
  );
  const child = spawn(process.execPath, [BIN, 'start', '--host', '127.0.0.1', '--port', '0', ...args], {
    env: base,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
    if (/listening on http/.test(stdout)) child.kill('SIGKILL');
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const code = await within(
    new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
    15_000,
    'herald start to exit',
  ).finally(() => child.kill('SIGKILL'));
  assert.doesNotMatch(stdout, /listening on http/, `herald started:\n${stdout}`);
  return { code, stdout, stderr };
}

test('a NATS server without JetStream is refused at start: exit 1, the message says how to enable it', async () => {
  const port = await freePort();
  const nats = await Server.start('nats-server', ['-a', '127.0.0.1', '-p', String(port)], /Server is ready/);
  try {
    const { code, stderr } = await runStart(['--nats-url', `nats://127.0.0.1:${port}`]);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /JetStream/);
    assert.match(stderr, /nats-server -js/);
    assert.match(stderr, /jetstream \{\}/);
  } finally {
    await nats.kill();
  }
});

test('a Redis that refuses Lua scripts is refused at start: exit 1, the message names EVAL', async () => {
  const port = await freePort();
  const redis = await Server.start(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--rename-command',
      'EVAL',
      '',
      '--rename-command',
      'EVALSHA',
      '',
    ],
    /Ready to accept connections/,
  );
  try {
    const { code, stderr } = await runStart(['--redis-url', `redis://127.0.0.1:${port}`]);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /Lua script/);
    assert.match(stderr, /EVAL and EVALSHA/);
  } finally {
    await redis.kill();
  }
});

test('a read-only Redis replica is refused at start: exit 1, the message says to use the master', async () => {
  const [port, masterPort] = [await freePort(), await freePort()];
  // A replica of a master that is not there: it accepts clients and refuses every write.
  const redis = await Server.start(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--replicaof',
      '127.0.0.1',
      String(masterPort),
    ],
    /Ready to accept connections/,
  );
  try {
    const { code, stderr } = await runStart(['--redis-url', `redis://127.0.0.1:${port}`]);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /READONLY/);
    assert.match(stderr, /not a read-only replica/);
  } finally {
    await redis.kill();
  }
});
