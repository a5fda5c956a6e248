import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** `bin/herald.js` of this build. */
export const HERALD_BIN = fileURLToPath(new URL('../../../bin/herald.js', import.meta.url));

/** A script of test/fixtures/clients/ in this build. */
export const clientFixture = (name: string) =>
  fileURLToPath(new URL(`../fixtures/clients/${name}.js`, import.meta.url));

export type Line = Record<string, unknown>;

/**
 * A Node process whose stdout carries JSON lines: `herald start`'s log, or what a client fixture
 * reports. Lines are kept as they come; `next` takes the first one not taken yet that matches, waiting
 * for it if needed, and fails if the process exits first. Started with `HERALD_*` and the test runner's
 * variables left out of the environment, then `env` added.
 */
export class LineProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #stdout = '';
  #stderr = '';
  #partial = '';
  readonly #lines: Line[] = [];
  #waiters: { match: (line: Line) => boolean; resolve: (line: Line) => void }[] = [];

  constructor(args: readonly string[], env: Record<string, string> = {}) {
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_') && k !== 'NODE_TEST_CONTEXT'),
    );
    this.child = spawn(process.execPath, args, {
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.#read(chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.exited.then(() => {
      for (const waiter of this.#waiters.splice(0)) waiter.resolve(EXITED);
    });
  }

  stdout(): string {
    return this.#stdout;
  }

  stderr(): string {
    return this.#stderr;
  }

  /** The next line `match` accepts (a `kind` or a log `msg` when a string). */
  async next(match: string | ((line: Line) => boolean)): Promise<Line> {
    const test = typeof match === 'string' ? (l: Line) => l.kind === match || l.msg === match : match;
    const i = this.#lines.findIndex(test);
    const line =
      i >= 0
        ? this.#lines.splice(i, 1)[0]!
        : await new Promise<Line>((resolve) => {
            if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve(EXITED);
            this.#waiters.push({ match: test, resolve });
          });
    if (line === EXITED) {
      throw new Error(
        `the process exited before the line ${String(match)}\n${this.#stdout}\n${this.#stderr}`,
      );
    }
    return line;
  }

  /** The lines not taken yet that `match` accepts, without taking them. */
  pending(match: (line: Line) => boolean): Line[] {
    return this.#lines.filter(match);
  }

  /** Sends `signal` (SIGTERM by default) unless it has exited; resolves once it has. */
  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  #read(chunk: string): void {
    this.#stdout += chunk;
    const text = this.#partial + chunk;
    const lines = text.split('\n');
    this.#partial = lines.pop()!;
    for (const text of lines) {
      const line = parseLine(text);
      if (!line) continue;
      const i = this.#waiters.findIndex((w) => w.match(line));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(line);
      else this.#lines.push(line);
    }
  }
}

/** Stands for "no such line: the process is gone". */
const EXITED: Line = Object.freeze({});

/** A JSON object line; anything else (the connection hint, a blank line) is no line to wait for. */
function parseLine(text: string): Line | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Line) : undefined;
  } catch {
    // Not a log line, e.g. a half-written one of a process killed mid-line: only stdout() keeps it.
    return undefined;
  }
}
