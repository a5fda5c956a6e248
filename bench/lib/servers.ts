/**
 * Starting and stopping the servers under test (Herald, Soketi) as child processes on 127.0.0.1, and
 * reading their CPU time and resident memory from /proc.
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ACTIVATED_SH, type HeldSocket, holdSocket } from '../../test/helpers/held-socket.js';

export const HOST = '127.0.0.1';
/** The one app both servers serve, with client events on and limits raised for the bench. */
export const APP = { id: 'bench-app', key: 'bench-key', secret: 'bench-secret' };

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // No getconf: 100 ticks per second, Linux's value on every common architecture.
}

/** CPU time and resident memory of a process, from /proc. */
export interface ProcStats {
  /** User and system CPU time of every thread, in µs. */
  cpuUs: number;
  rssBytes: number;
}

/** CPU time (user + system, all threads) in µs and resident set size in bytes of a process. */
export function procStats(pid: number): ProcStats {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuUs: (ticks * 1e6) / clockTicks, rssBytes: rssKb * 1024 };
}

/** Does process `pid` hold a socket listening on `port` of 127.0.0.1? From /proc/net/tcp and its fds. */
function listensOn(pid: number, port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[3] === '0A') inodes.add(f[9]!);
  }
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode && inodes.has(inode)) return true;
    } catch {
      // Closed since it was listed.
    }
  }
  return false;
}

/** Soft and hard limits on open files of this process. */
export function fdLimits(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '')
    .replace('Max open files', '')
    .trim()
    .split(/\s+/)
    .map((v) => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v)));
  return { soft: soft || 1024, hard: hard || soft || 1024 };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Runs `node args…` under `sh` with the open-file limit raised to the hard limit (`exec` keeps the
 * pid, so the returned child is the node process itself). With `socket`, as systemd socket activation
 * starts it: that socket as descriptor 3, `LISTEN_FDS=1` and `LISTEN_PID` its pid.
 */
export function spawnNode(nodeArgs: string[], options: SpawnOptions, socket?: HeldSocket): ChildProcess {
  const { hard } = fdLimits();
  const limit = Number.isFinite(hard) ? hard : 1_048_576;
  const [, script] = ACTIVATED_SH;
  if (!socket) {
    return spawn(
      '/bin/sh',
      ['-c', `ulimit -n ${limit} 2>/dev/null; exec "$0" "$@"`, process.execPath, ...nodeArgs],
      options,
    );
  }
  const [stdin, stdout, stderr] = options.stdio as unknown[];
  return spawn(
    '/bin/sh',
    ['-c', `ulimit -n ${limit} 2>/dev/null; ${script}`, process.execPath, ...nodeArgs],
    {
      ...options,
      env: { ...options.env, LISTEN_FDS: '1' },
      stdio: [stdin, stdout, stderr, socket.fd] as SpawnOptions['stdio'],
    },
  );
}

/** The status of a GET of `urlPath`, 0 when there was no answer within a second. */
function get(port: number, urlPath: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: HOST, port, path: urlPath, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** How a process ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Starts a server (Herald, Soketi) on `port`, the way it was started before: see `restart`. With
 * `socket`, on that socket instead (Herald only); null: on a socket of its own.
 */
export type Launch = (port: number, socket?: HeldSocket | null) => Promise<ServerProcess>;

/** A server under test, running as a child process. */
export class ServerProcess {
  readonly pid: number;
  readonly host = HOST;
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined = undefined;
  /** How to start this server again, set by the function that started it. */
  launch: Launch | undefined = undefined;
  /** The socket the bench holds for it as systemd would (socket activation); none when it bound its own. */
  socket: HeldSocket | undefined = undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly port: number,
    readonly logFile: string,
  ) {
    this.pid = child.pid!;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then((info) => {
      this.exitInfo = info;
    });
  }

  stats(): ProcStats {
    return procStats(this.pid);
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exitInfo) {
        throw new Error(`${this.name} exited (${JSON.stringify(this.exitInfo)}):\n${tail(this.logFile)}`);
      }
      // During a restart the old process may still hold the port too (Soketi's uWebSockets opens it
      // with SO_REUSEPORT) and answer `/ready` before it has taken the signal in.
      if ((await get(this.port, '/ready')) === 200 && listensOn(this.pid, this.port)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    this.child.kill('SIGKILL');
    throw new Error(`${this.name} not ready after ${timeoutMs} ms:\n${tail(this.logFile)}`);
  }

  /**
   * A restart as a supervisor does it: SIGTERM, and at once the same server again on the same port.
   * A new process that cannot listen there yet (the old one still holds the port: Node opens its
   * port without SO_REUSEPORT) is started again as soon as nothing listens on the port any more.
   * Resolves with the new process once it answers `/ready`, how many processes were started
   * (`launches`), and the old one's exit. `socket`: see `Launch`; `'hold'`: on a socket the bench
   * binds to the port once it is free and holds from then on (the one held so far is let go when the
   * new process gets another).
   */
  async restart(
    timeoutMs = 30_000,
    socket?: HeldSocket | null | 'hold',
  ): Promise<{ next: ServerProcess; launches: number; exited: Promise<ExitInfo> }> {
    const launch = this.launch;
    if (!launch) throw new Error(`${this.name} cannot be restarted`);
    const exited = this.stop();
    if (socket !== undefined && socket !== this.socket) this.socket?.close();
    const deadline = Date.now() + timeoutMs;
    for (let launches = 1; ; launches++) {
      try {
        const on = socket === 'hold' ? holdSocket(HOST, this.port) : socket;
        return { next: await launch(this.port, on), launches, exited };
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        await portFree(this.port, deadline);
      }
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 15_000): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }
}

/** Resolves once a connection to `port` is refused (nothing listens there), or at `deadline` (ms). */
async function portFree(port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const listening = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: HOST, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (!listening) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

function openLog(logFile: string, header: string): number {
  writeFileSync(logFile, `\n===== ${new Date().toISOString()} ${header}\n`, { flag: 'a' });
  return openSync(logFile, 'a');
}

/** Herald's `adapter` setting, for a node of a cluster. */
export interface AdapterConfig {
  driver: 'redis' | 'nats';
  url: string;
  prefix: string;
}

export interface HeraldOptions {
  /** The Herald checkout to run (built). */
  root: string;
  logFile: string;
  label: string;
  cpuProfDir?: string | undefined;
  /** Flags for node itself, before the script (`--max-semi-space-size=2`). */
  nodeOptions?: readonly string[] | undefined;
  adapter?: AdapterConfig | undefined;
  /** Settings written over the bench's own (`apps`, `appStore`…), top-level key by key; one undefined is left out. */
  settings?: Record<string, unknown> | undefined;
  /** The port to listen on (default a free one). */
  port?: number | undefined;
  /** A socket held as systemd holds a socket unit's, to listen on instead (socket activation). */
  socket?: HeldSocket | undefined;
}

/** Config files written so far, so that a restart on the same port gets a file of its own. */
let configFiles = 0;

/**
 * Herald from this checkout (`bin/herald.js`, needs `dist/`). With `cpuProfDir`, node writes a CPU
 * profile there when the server exits; with `adapter` (Herald's `adapter` config), it joins a cluster;
 * `settings` replace the bench's own (its apps, say). The config file is removed once Herald exits.
 */
export async function startHerald(options: HeraldOptions): Promise<ServerProcess> {
  const { root, logFile, cpuProfDir, label, adapter, settings } = options;
  const port = options.port ?? (await freePort());
  const configFile = path.join(tmpdir(), `herald-bench-${process.pid}-${port}-${++configFiles}.json`);
  const config = {
    host: HOST,
    port,
    logLevel: 'warn',
    // The scenarios open 10,000-20,000 connections within seconds from 16 loopback addresses, far past
    // the default rate per address (100/s, burst 500); the benchmark measures delivery, not that limit.
    connectionRatePerAddress: null,
    ...(adapter ? { adapter } : {}),
    apps: [
      {
        ...APP,
        clientEvents: true,
        maxClientEventsPerSecond: 1_000_000,
        maxPresenceMembers: 100_000,
      },
    ],
    // The wamp-patterns scenario holds 50,000 pattern subscriptions on one session: past the
    // default per-session limit (1,000), so the bench's realm has none.
    wamp: { realms: [{ name: 'realm1', maxSubscriptionsPerSession: null }] },
    ...settings,
  };
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const nodeArgs = [
    ...(options.nodeOptions ?? []),
    ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []),
  ];
  const fd = openLog(logFile, `herald ${label} port ${port}`);
  const child = spawnNode(
    [...nodeArgs, path.join(root, 'bin/herald.js'), 'start', '--config', configFile],
    { cwd: root, stdio: ['ignore', fd, fd], env: { ...process.env, NODE_ENV: 'production' } },
    options.socket,
  );
  closeSync(fd);
  const server = new ServerProcess('herald', child, port, logFile);
  server.socket = options.socket;
  // null: a socket of its own; a new held one is bound once the old process has let the port go.
  server.launch = (again, socket) =>
    startHerald({
      ...options,
      port: again,
      socket: socket === undefined ? options.socket : (socket ?? undefined),
    });
  void server.exited.then(() => rmSync(configFile, { force: true }));
  await server.waitReady();
  return server;
}

/**
 * The bare `node:http` server of `floor-server.ts`: the most requests per second Node itself answers
 * on this machine, for the HTTP API scenario to compare with.
 */
export async function startFloor({ root, logFile, label }: HeraldOptions): Promise<ServerProcess> {
  const port = await freePort();
  const fd = openLog(logFile, `node:http floor ${label} port ${port}`);
  const child = spawnNode([path.join(root, 'dist/bench/lib/floor-server.js'), String(port)], {
    cwd: root,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  closeSync(fd);
  const server = new ServerProcess('floor', child, port, logFile);
  await server.waitReady();
  return server;
}

/** What Soketi runs with; `port` defaults to a free one. */
export interface SoketiOptions {
  soketiDir: string;
  logFile: string;
  label: string;
  port?: number | undefined;
}

/**
 * Soketi from the bench-only install; cluster discovery kept on loopback (it is on by default). Its
 * metrics and discovery ports are free ones, new on a restart.
 */
export async function startSoketi(options: SoketiOptions): Promise<ServerProcess> {
  const { soketiDir, logFile, label } = options;
  const port = options.port ?? (await freePort());
  const metricsPort = await freePort();
  const clusterPort = await freeUdpPort();
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    SOKETI_HOST: HOST,
    SOKETI_PORT: String(port),
    SOKETI_METRICS_HOST: HOST,
    SOKETI_METRICS_SERVER_PORT: String(metricsPort),
    SOKETI_CLUSTER_HOST: HOST,
    SOKETI_CLUSTER_PORT: String(clusterPort),
    SOKETI_CLUSTER_UNICAST_ADDRESSES: HOST,
    SOKETI_CLUSTER_BROADCAST_ADDRESS: '127.255.255.255',
    SOKETI_DEFAULT_APP_ID: APP.id,
    SOKETI_DEFAULT_APP_KEY: APP.key,
    SOKETI_DEFAULT_APP_SECRET: APP.secret,
    SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true',
    SOKETI_DEFAULT_APP_MAX_CONNS: '-1',
    SOKETI_DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SEC: '-1',
    SOKETI_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC: '-1',
    SOKETI_DEFAULT_APP_MAX_READ_REQ_PER_SEC: '-1',
    SOKETI_PRESENCE_MAX_MEMBERS: '100000',
    SOKETI_SHUTDOWN_GRACE_PERIOD: '500',
  };
  const bin = path.join(soketiDir, 'node_modules/@soketi/soketi/bin/server.js');
  if (!existsSync(bin)) throw new Error(`Soketi is not installed in ${soketiDir}`);
  const fd = openLog(logFile, `soketi ${label} port ${port}`);
  // Its own folder as cwd: soketi reads a .env from the working directory.
  const child = spawnNode([bin, 'start'], { cwd: soketiDir, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  const server = new ServerProcess('soketi', child, port, logFile);
  server.launch = (again) => startSoketi({ ...options, port: again });
  await server.waitReady();
  return server;
}
