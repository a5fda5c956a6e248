import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Debian's python3: `apt-get install python3-autobahn` installs for it, not for a pyenv python that
 * may come first on PATH (docs/wamp.md, "Connecting clients").
 */
export const PYTHON = '/usr/bin/python3';

/** test/fixtures/wamp/<name>, from the compiled test's location (dist/test/helpers). */
export const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../test/fixtures/wamp/${name}`, import.meta.url));

/**
 * Why the autobahn-python tests skip, or false when they run: they need python3-autobahn. With
 * CI=true they always run, so that a missing package fails the suite instead of hiding.
 */
export function autobahnPythonSkip(): string | false {
  if (process.env.CI === 'true') return false;
  const probe = spawnSync(PYTHON, ['-c', 'import autobahn'], { encoding: 'utf8' });
  return probe.status === 0
    ? false
    : 'python3-autobahn is not installed (apt-get install -y python3-autobahn)';
}

/**
 * Why the autobahn-python tests over CBOR skip, or false when they run: autobahn-python offers CBOR only
 * with python3-cbor2 installed. With CI=true they always run.
 */
export function cborPythonSkip(): string | false {
  const autobahn = autobahnPythonSkip();
  if (autobahn || process.env.CI === 'true') return autobahn;
  const probe = spawnSync(PYTHON, ['-c', 'import cbor2'], { encoding: 'utf8' });
  return probe.status === 0 ? false : 'python3-cbor2 is not installed (apt-get install -y python3-cbor2)';
}

/** A running Python client script: its stdout JSON lines, waitable one by one. */
export class PythonClient {
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly lines: Record<string, unknown>[] = [];
  #stderr = '';
  #waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];

  /** `env` is added to this process's environment (client.py reads WAMP_REALM, WAMP_AUTHID, WAMP_PASSWORD). */
  constructor(script: string, args: string[], env: Record<string, string> = {}) {
    this.process = spawn(PYTHON, [fixture(script), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let buffered = '';
    this.process.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      // Twisted's runner prefixes its log lines with a timestamp; the JSON starts at the first brace.
      for (const line of lines) if (line.includes('{')) this.#line(JSON.parse(line.slice(line.indexOf('{'))));
    });
    this.process.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
    });
    this.exited = new Promise((resolve) => this.process.on('exit', (code) => resolve(code)));
  }

  #line(line: Record<string, unknown>): void {
    const i = this.#waiters.findIndex((w) => w.match(line));
    if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(line);
    else this.lines.push(line);
  }

  /** The next output line that has `key`; rejects if the process exits first. */
  next(key: string): Promise<Record<string, unknown>> {
    const match = (l: Record<string, unknown>) => key in l;
    const i = this.lines.findIndex(match);
    if (i >= 0) return Promise.resolve(this.lines.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ match, resolve });
      void this.exited.then((code) =>
        reject(new Error(`python exited (${code}) before "${key}": ${this.#stderr}`)),
      );
    });
  }

  get stderr(): string {
    return this.#stderr;
  }

  kill(): void {
    this.process.kill('SIGKILL');
  }
}
