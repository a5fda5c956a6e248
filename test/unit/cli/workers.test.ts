import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { superviseWorkers } from '../../../src/cli/workers.js';
import { within } from '../../helpers/raw-client.js';

// The workers run test/helpers/cluster-worker.ts, each in the role it is forked with; their output stays here.
cluster.setupPrimary({
  exec: fileURLToPath(new URL('../../helpers/cluster-worker.js', import.meta.url)),
  silent: true,
});

type Role = 'serves' | 'starting' | 'unguarded';

interface Outcome {
  code: number;
  logs: { msg: string; [field: string]: unknown }[];
}

/**
 * Supervises one worker per role; once every worker but the `starting` ones listens, stops them as
 * SIGTERM to this process would. Resolves with the exit code and what the supervisor logged.
 */
async function superviseRoles(roles: Role[]): Promise<Outcome> {
  const logs: Outcome['logs'] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const queue = [...roles];
  const listening = roles.filter((r) => r !== 'starting').length;
  let listened = 0;
  const allListened = new Promise<void>((resolve) => {
    const onListening = () => {
      if (++listened < listening) return;
      cluster.off('listening', onListening);
      resolve();
    };
    cluster.on('listening', onListening);
  });
  const fork = (): Worker => cluster.fork({ TEST_WORKER_ROLE: queue.shift() });
  const exited = superviseWorkers(roles.length, logger, () => {}, { fork });
  await within(allListened, 10_000, 'the workers to listen');
  process.emit('SIGTERM', 'SIGTERM');
  const code = await within(exited, 10_000, 'the workers to stop');
  return { code, logs };
}

test('a worker still starting when SIGTERM comes, and ended by it, stopped cleanly: exit code 0', async () => {
  const { code, logs } = await superviseRoles(['serves', 'starting']);
  assert.equal(code, 0, JSON.stringify(logs));
  assert.ok(!logs.some((r) => r.msg === 'a worker did not stop cleanly'), JSON.stringify(logs));
});

test('a worker that listened and is ended by SIGTERM did not stop cleanly: exit code 1, and it is said', async () => {
  const { code, logs } = await superviseRoles(['serves', 'unguarded']);
  assert.equal(code, 1);
  const unclean = logs.filter((r) => r.msg === 'a worker did not stop cleanly');
  assert.equal(unclean.length, 1, JSON.stringify(logs));
  assert.equal(unclean[0]!.signal, 'SIGTERM');
});

test('every worker that listened stops on SIGTERM: exit code 0, and SIGTERM is no longer caught', async () => {
  const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
  const { code, logs } = await superviseRoles(['serves', 'serves']);
  assert.equal(code, 0, JSON.stringify(logs));
  assert.deepEqual([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')], before);
});
