import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FATAL_EXIT_CODE } from '../../../src/cli/fatal.js';
import { within } from '../../helpers/raw-client.js';

const FATAL_MODULE = new URL('../../../src/cli/fatal.js', import.meta.url).href;
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

interface Outcome {
  code: number | null;
  /** Every JSON line the child logged. */
  lines: Record<string, unknown>[];
  stderr: string;
}

/**
 * Runs `fault` (module code) in a child process that first installs the handlers with a real pino
 * logger writing to stdout, and then keeps an interval running so only the handlers can end it.
 */
async function runChild(fault: string): Promise<Outcome> {
  const script = `
    import { pino } from 'pino';
    import { exitOnUnhandledErrors } from ${JSON.stringify(FATAL_MODULE)};
    exitOnUnhandledErrors(pino());
    setInterval(() => {}, 1000);
    ${fault}
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  // 'close' comes once the process has exited and its output streams have ended.
  const code = await within(
    new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c))),
    10_000,
    'the child to exit',
  ).finally(() => child.kill());
  const lines = stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, lines, stderr };
}

/** The single fatal line; fails if there is none or more than one. */
function fatalLine(outcome: Outcome): { msg: string; err: { message: string; stack: string; type: string } } {
  const fatal = outcome.lines.filter((l) => l.level === 60);
  assert.equal(
    fatal.length,
    1,
    `one fatal line expected, got: ${JSON.stringify(outcome.lines)} ${outcome.stderr}`,
  );
  return fatal[0] as never;
}

describe('unhandled errors end the process, logged as fatal', () => {
  test('an uncaught exception: fatal with the stack, exit 70', async () => {
    const outcome = await runChild(`
      function explodeSomewhere() { throw new Error('boom from a timer'); }
      setTimeout(explodeSomewhere, 10);
    `);
    assert.equal(outcome.code, FATAL_EXIT_CODE, outcome.stderr);
    const line = fatalLine(outcome);
    assert.equal(line.msg, 'uncaughtException: the process stops');
    assert.equal(line.err.message, 'boom from a timer');
    assert.match(line.err.stack, /^Error: boom from a timer\n\s+at (Timeout\.)?explodeSomewhere /);
  });

  test('an unhandled rejection: fatal with the stack, exit 70', async () => {
    const outcome = await runChild(`
      async function rejectSomewhere() { throw new TypeError('nobody awaited this'); }
      setTimeout(() => { rejectSomewhere(); }, 10);
    `);
    assert.equal(outcome.code, FATAL_EXIT_CODE, outcome.stderr);
    const line = fatalLine(outcome);
    assert.equal(line.msg, 'unhandledRejection: the process stops');
    assert.equal(line.err.type, 'TypeError');
    assert.match(line.err.stack, /^TypeError: nobody awaited this\n\s+at rejectSomewhere /);
  });

  test('a rejection with a value that is not an Error says what the value was', async () => {
    const outcome = await runChild(`setTimeout(() => { Promise.reject({ code: 42 }); }, 10);`);
    assert.equal(outcome.code, FATAL_EXIT_CODE, outcome.stderr);
    const line = fatalLine(outcome);
    assert.equal(line.err.message, 'unhandledRejection of a non-Error value: { code: 42 }');
    assert.match(line.err.stack, /\n\s+at /);
  });

  test('two faults in a row log once and exit once', async () => {
    const outcome = await runChild(`
      setTimeout(() => {
        Promise.reject(new Error('first'));
        Promise.reject(new Error('second'));
      }, 10);
    `);
    assert.equal(outcome.code, FATAL_EXIT_CODE, outcome.stderr);
    assert.equal(fatalLine(outcome).err.message, 'first');
  });
});
