import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ACTIVATED_SH } from './held-socket.js';
import { within } from './raw-client.js';

/** `bin/herald.js` run as a child process, the way an operator runs it. */

const BIN = fileURLToPath(new URL('../../../bin/herald.js', import.meta.url));
/** How long a CLI run may take to print or exit what a test waits for. */
export const GUARD_MS = 10_000;

export interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout, waiting for more output if needed. */
  waitForStdout(pattern: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const runs: Run[] = [];

/**
 * Spawns the CLI with `HERALD_*` cleared from the inherited environment, then `env` added. With
 * `sockets`, as systemd socket activation starts it: those descriptors from 3 on, `LISTEN_FDS` their
 * count and `LISTEN_PID` its pid (`env` may replace them).
 */
export function herald(args: string[], env: Record<string, string> = {}, sockets: number[] = []): Run {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_') && k !== 'NODE_TEST_CONTEXT'),
  );
  const child =
    sockets.length === 0
      ? spawn(process.execPath, [BIN, ...args], {
          env: { ...base, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn('/bin/sh', [...ACTIVATED_SH, process.execPath, BIN, ...args], {
          env: { ...base, LISTEN_FDS: String(sockets.length), ...env },
          stdio: ['ignore', 'pipe', 'pipe', ...sockets],
        });
  let out = '';
  let err = '';
  const watchers: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const w of [...watchers]) {
      const m = out.match(w.pattern);
      if (m) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close', not 'exit': the process has ended and everything it wrote has been read.
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const run: Run = {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForStdout(pattern) {
      const m = out.match(pattern);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        watchers.push({ pattern, resolve });
        exited.then(({ code }) =>
          reject(new Error(`herald exited (${code}) before printing ${pattern}\n${out}\n${err}`)),
        );
      });
    },
    exited,
  };
  runs.push(run);
  return run;
}

/** Runs the CLI to completion. */
export async function finished(args: string[], env: Record<string, string> = {}) {
  const run = herald(args, env);
  const { code } = await within(run.exited, GUARD_MS, `herald ${args.join(' ')} to exit`);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Starts `herald start …` and waits until it has said where it listens; resolves with the bound port. */
export async function started(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ run: Run; port: number }> {
  const run = herald(['start', '--host', '127.0.0.1', '--port', '0', ...args], env);
  const m = await within(
    run.waitForStdout(/listening on http:\/\/127\.0\.0\.1:(\d+)/),
    GUARD_MS,
    'the listening line',
  );
  const port = Number(m[1]);
  // The connection hint follows the log line.
  await within(run.waitForStdout(/HTTP API: [^\n]*\n/), GUARD_MS, 'the connection hint');
  return { run, port };
}

/** Kills every run still going: for a test file's `after`. */
export function killRuns(): void {
  for (const run of runs)
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
}

/** pusher-js for a CLI-started server. */
export { pusherClient as pusherJs } from './herald.js';
