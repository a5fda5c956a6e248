import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import PusherServer from 'pusher';
import { atMost } from '../../src/core/deadline.js';
import { APP, sdkAuthorizer } from './herald.js';
import { Pusher } from './pusher-js.js';
import { within } from './raw-client.js';

/**
 * One Herald node as a real process (`bin/herald.js start`) for the cluster tests: its JSON logs as they
 * come, the HTTP API through the `pusher` SDK, pusher-js clients of it, and a stop that reports a hang.
 */

export const BIN = fileURLToPath(new URL('../../../bin/herald.js', import.meta.url));
/** The line a node logs once it listens, with its port. */
const LISTENING = /listening on http:\/\/127\.0\.0\.1:(\d+)/;
/** How long any one step of a cluster test may take before it fails, naming what it waited for. */
export const GUARD_MS = 15_000;

export interface LogRecord {
  msg: string;
  [field: string]: unknown;
}

/** One `herald start` process. */
export class Node {
  readonly logs: LogRecord[] = [];
  /** Everything the process (and its workers) wrote, stdout and stderr, line by line as it came. */
  readonly #output: string[];
  readonly #logEvents = new EventEmitter();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly sdk: PusherServer;
  readonly #clients: Pusher[] = [];

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly port: number,
    logs: LogRecord[],
    logEvents: EventEmitter,
    output: string[],
  ) {
    this.logs = logs;
    this.#output = output;
    this.#logEvents = logEvents;
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null)
        resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    this.sdk = new PusherServer({
      appId: APP.id,
      key: APP.key,
      secret: APP.secret,
      host: '127.0.0.1',
      port: String(port),
      useTLS: false,
    });
  }

  /** Spawns `herald start` and resolves once it printed the port it listens on. */
  static start(name: string, args: string[], env: Record<string, string>): Promise<Node> {
    return Node.launch(name, args, env, (r) => LISTENING.test(r.msg), 'listen');
  }

  /**
   * Spawns `herald start` and resolves once it logged a line that `ready` matches (`what` names that
   * moment); `port` is 0 unless that line says where it listens.
   */
  static async launch(
    name: string,
    args: string[],
    env: Record<string, string>,
    ready: (r: LogRecord) => boolean,
    what: string,
  ): Promise<Node> {
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_') && k !== 'NODE_TEST_CONTEXT'),
    );
    const child = spawn(process.execPath, [BIN, 'start', '--host', '127.0.0.1', '--port', '0', ...args], {
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs: LogRecord[] = [];
    const logEvents = new EventEmitter();
    const output: string[] = [];
    let stderr = '';
    eachLine(child.stdout!, (line) => {
      output.push(line);
      if (!line.startsWith('{')) return; // the connection hint for humans
      const record = JSON.parse(line) as LogRecord;
      logs.push(record);
      if (process.env.HERALD_TEST_LOG) process.stderr.write(`[${name}] ${line}\n`);
      logEvents.emit('log', record);
    });
    eachLine(child.stderr!, (line) => {
      stderr += `${line}\n`;
      output.push(`[stderr] ${line}`);
    });
    const readied = new Promise<LogRecord>((resolve, reject) => {
      const onLog = (r: LogRecord) => {
        if (ready(r)) resolve(r);
      };
      logEvents.on('log', onLog);
      child.once('exit', (code) =>
        reject(
          new Error(
            `${name} exited (${code}) while waiting for it to ${what}\n${stderr}\n${JSON.stringify(logs)}`,
          ),
        ),
      );
    });
    const record = await within(readied, GUARD_MS, `${name} to ${what}`);
    const port = Number(LISTENING.exec(record.msg)?.[1] ?? 0);
    return new Node(name, child, port, logs, logEvents, output);
  }

  /**
   * Resolves once the output of the process and its workers ended (the last lines of an exit are in
   * `logs` then), or after a second when something still holds it open.
   */
  async outputEnded(): Promise<void> {
    const ended = (s: Readable | null) => (s && !s.readableEnded ? once(s, 'end') : undefined);
    await atMost(Promise.all([ended(this.child.stdout), ended(this.child.stderr)]), 1_000);
  }

  /** What the process and its workers wrote, stdout and stderr lines in the order they came. */
  async output(): Promise<string[]> {
    await this.outputEnded();
    const head = `--- ${this.name} (pid ${this.child.pid}) output ---`;
    return [head, ...this.#output, `--- end of ${this.name} output ---`];
  }

  /** Resolves with the first log record from index `since` on that matches. */
  log(match: (r: LogRecord) => boolean, what: string, since = 0): Promise<LogRecord> {
    const seen = this.logs.slice(since).find(match);
    if (seen) return Promise.resolve(seen);
    const found = new Promise<LogRecord>((resolve) => {
      const listener = (r: LogRecord) => {
        if (!match(r)) return;
        this.#logEvents.off('log', listener);
        resolve(r);
      };
      this.#logEvents.on('log', listener);
    });
    return within(found, GUARD_MS, `${this.name}: ${what}`);
  }

  /** A pusher-js client of this node; presence channels sign in as `userId`. */
  client(userId?: string): Pusher {
    const client = new Pusher(APP.key, {
      wsHost: '127.0.0.1',
      wsPort: this.port,
      forceTLS: false,
      enabledTransports: ['ws'],
      cluster: '',
      ...sdkAuthorizer(this.sdk, () => ({ user_id: userId ?? 'anonymous', user_info: { name: userId } })),
    });
    this.#clients.push(client);
    return client;
  }

  /** A signed GET of the HTTP API (path below `/apps/<id>`), as JSON. */
  async get<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const response = await this.sdk.get({ path, params });
    assert.equal(response.status, 200, `${this.name} GET ${path}`);
    return (await response.json()) as T;
  }

  disconnectClients(): void {
    for (const c of this.#clients) c.disconnect();
  }

  /**
   * SIGTERM (graceful) unless told otherwise; resolves once the process is gone, then stops this
   * node's clients from reconnecting. The clients stay connected until the signal: a SIGKILL must
   * find them there.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    try {
      await within(this.exited, GUARD_MS, `${this.name} to exit on ${signal}`);
    } catch (err) {
      this.child.kill('SIGKILL'); // gone either way; the hang is reported
      await this.exited;
      throw err;
    } finally {
      this.disconnectClients();
    }
  }
}

/** Calls `onLine` with each line of `stream` (one left unfinished at its end too). */
function eachLine(stream: Readable, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) onLine(line);
  });
  stream.once('end', () => {
    if (pending) onLine(pending);
  });
}

/** Stops every node; all are gone afterwards even when one hangs (then reported by throwing). */
export async function stopAll(nodes: Node[]): Promise<void> {
  const results = await Promise.allSettled(nodes.map((n) => n.stop()));
  const failure = results.find((r) => r.status === 'rejected');
  if (failure) throw failure.reason;
}
