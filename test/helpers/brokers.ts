import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { pino } from 'pino';
import { channelHistoryStreams } from '../../src/adapters/nats/channel-history.js';
import { NatsClient } from '../../src/adapters/nats/connection.js';
import { historyStreamName } from '../../src/adapters/nats/history.js';
import { bucketName, KvBucket } from '../../src/adapters/nats/kv.js';
import { within } from './raw-client.js';

const run = promisify(execFile);

/** The shared brokers tests use; override with HERALD_TEST_REDIS_URL / HERALD_TEST_NATS_URL. */
export const REDIS_URL = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const NATS_URL = process.env.HERALD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** A prefix no other run shares, so tests never see each other's topics and keys. */
export const uniquePrefix = (what: string) => `herald-test-${what}-${randomBytes(5).toString('hex')}`;

async function redisProblem(url: string): Promise<string | null> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {}); // the rejected connect below carries the reason
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    redis.disconnect();
  }
}

async function natsProblem(url: string): Promise<string | null> {
  try {
    const nc = await connect({ servers: url, timeout: 1000, maxReconnectAttempts: 0 });
    try {
      await nc.jetstreamManager(); // presence needs JetStream, not just core NATS
      return null;
    } finally {
      await nc.close();
    }
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * `false` when the broker answers; otherwise the reason to skip the tests that need it. Under
 * `CI=true` an unreachable broker is a failure, not a skip.
 */
export async function brokerSkip(driver: 'redis' | 'nats'): Promise<string | false> {
  const url = driver === 'redis' ? REDIS_URL : NATS_URL;
  const problem = driver === 'redis' ? await redisProblem(url) : await natsProblem(url);
  if (problem === null) return false;
  const reason = `${driver} not reachable at ${url} (${problem})`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI=true requires it`);
  return reason;
}

/** Deletes every Redis key under `prefix` (and nothing else: the server is shared). */
export async function deleteRedisPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * Deletes the JetStream buckets a run under `prefix` created (`history`: its history stream;
 * `channel-history`: the streams of channel streams and resume states).
 */
export async function destroyNatsBuckets(prefix: string, purposes: string[], url = NATS_URL): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await nc.jetstreamManager();
    const streams = purposes.flatMap((purpose) =>
      purpose === 'history'
        ? [historyStreamName(prefix)]
        : purpose === 'channel-history'
          ? channelHistoryStreams(prefix)
          : [`KV_${bucketName(prefix, purpose)}`],
    );
    for (const stream of streams) {
      await jsm.streams.delete(stream).catch((err: Error) => {
        if (!/not found/i.test(err.message)) throw err;
      });
    }
  } finally {
    await nc.close();
  }
}

/** The webhook outbox entries every node of the cluster under `prefix` has in the broker, as JSON. */
export async function outboxEntries(driver: 'redis' | 'nats', prefix: string): Promise<{ kind: string }[]> {
  const entries: { kind: string }[] = [];
  if (driver === 'redis') {
    const redis = new Redis(REDIS_URL);
    try {
      for (const key of await redis.keys(`${prefix}:outbox:*`)) {
        for (const text of Object.values(await redis.hgetall(key))) entries.push(JSON.parse(text));
      }
    } finally {
      redis.disconnect();
    }
    return entries;
  }
  const client = new NatsClient(NATS_URL, pino({ level: 'silent' }));
  const bucket = new KvBucket(client, bucketName(prefix, 'outbox'));
  try {
    for (const key of await bucket.keys('n.>')) {
      const text = await bucket.get(key);
      if (text !== null) entries.push(JSON.parse(text));
    }
  } finally {
    await client.close();
  }
  return entries;
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A server process of a test's own, with its output so far and a wait for a line to come. */
export class Server {
  output = '';
  readonly exited: Promise<void>;
  #waiters: { pattern: RegExp; since: number; resolve: () => void }[] = [];

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const onData = (chunk: Buffer) => {
      this.output += chunk.toString();
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.pattern.test(this.output.slice(w.since))) return true;
        w.resolve();
        return false;
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  }

  /** Spawns `command` and resolves once its output matched `ready`. */
  static async start(command: string, args: string[], ready: RegExp): Promise<Server> {
    const server = new Server(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    const failed = new Promise<never>((_, reject) => {
      server.child.once('exit', (code) =>
        reject(new Error(`${command} exited (${code}) before ready:\n${server.output}`)),
      );
      server.child.once('error', reject);
    });
    failed.catch(() => {}); // only the race below reports it
    await within(Promise.race([server.waitFor(ready, 0), failed]), 15_000, `${command} to be ready`);
    return server;
  }

  /** Resolves once the output from character `since` on matches `pattern`. */
  waitFor(pattern: RegExp, since = this.output.length): Promise<void> {
    if (pattern.test(this.output.slice(since))) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ pattern, since, resolve }));
  }

  /** Kills it (no clean shutdown, as a crash) and resolves once it is gone. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * A Redis master, a replica of it and a Sentinel watching them (quorum 1, a master silent for a second
 * is down), each on a free port of its own: `url` is the `redis+sentinel://` URL of the set.
 */
export class SentinelSet {
  static readonly MASTER_NAME = 'heraldmaster';

  private constructor(
    readonly master: Server,
    readonly replica: Server,
    readonly sentinel: Server,
    readonly sentinelPort: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<SentinelSet> {
    const dir = await mkdtemp(join(tmpdir(), 'herald-sentinel-'));
    const started: Server[] = [];
    try {
      const redis = async (port: number, extra: string[], ready: RegExp) => {
        const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...extra];
        const server = await Server.start('redis-server', args, ready);
        started.push(server);
        return server;
      };
      const masterPort = await freePort();
      const master = await redis(masterPort, ['--dbfilename', 'master.rdb'], /Ready to accept connections/);
      const replica = await redis(
        await freePort(),
        ['--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(masterPort)],
        /sync: Finished with success/,
      );
      const sentinelPort = await freePort();
      const conf = join(dir, 'sentinel.conf');
      await writeFile(
        conf,
        [
          `port ${sentinelPort}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${SentinelSet.MASTER_NAME} 127.0.0.1 ${masterPort} 1`,
          `sentinel down-after-milliseconds ${SentinelSet.MASTER_NAME} 1000`,
          `sentinel failover-timeout ${SentinelSet.MASTER_NAME} 5000`,
          '',
        ].join('\n'),
      );
      // Ready once it has found the replica through the master.
      const sentinel = await Server.start('redis-server', [conf, '--sentinel'], /\+slave slave/);
      started.push(sentinel);
      return new SentinelSet(master, replica, sentinel, sentinelPort, dir);
    } catch (err) {
      await Promise.all(started.map((s) => s.kill()));
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get url(): string {
    return `redis+sentinel://127.0.0.1:${this.sentinelPort}/${SentinelSet.MASTER_NAME}`;
  }

  /** Kills the master and resolves once the Sentinel has made the replica the master. */
  async failover(): Promise<void> {
    const since = this.sentinel.output.length;
    await this.master.kill();
    await within(this.sentinel.waitFor(/\+switch-master/, since), 15_000, 'the sentinel to fail over');
  }

  async destroy(): Promise<void> {
    await Promise.all([this.master, this.replica, this.sentinel].map((s) => s.kill()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A Redis Cluster of three masters on free ports of its own: `url` is its `redis+cluster://` URL. */
export class RedisClusterSet {
  private constructor(
    readonly servers: Server[],
    readonly ports: number[],
    readonly dir: string,
  ) {}

  static async start(): Promise<RedisClusterSet> {
    const dir = await mkdtemp(join(tmpdir(), 'herald-redis-cluster-'));
    const servers: Server[] = [];
    try {
      const ports = [await freePort(), await freePort(), await freePort()];
      for (const port of ports) {
        const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
        args.push('--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`);
        servers.push(await Server.start('redis-server', args, /Ready to accept connections/));
      }
      const create = ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'];
      const { stdout } = await run('redis-cli', create);
      if (!/All 16384 slots covered/.test(stdout)) throw new Error(`cluster not created:\n${stdout}`);
      // Every node agrees the cluster is up before anyone uses it.
      for (const port of ports) {
        await within(
          (async () => {
            while (
              !/cluster_state:ok/.test(
                (await run('redis-cli', ['-p', String(port), 'cluster', 'info'])).stdout,
              )
            );
          })(),
          15_000,
          `node ${port} to see the cluster up`,
        );
      }
      return new RedisClusterSet(servers, ports, dir);
    } catch (err) {
      await Promise.all(servers.map((s) => s.kill()));
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get url(): string {
    return `redis+cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.kill()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A broker of our own, for tests that stop and restart it: a fixed port and data directory, so a
 * restart keeps both (Redis with an append-only file, NATS with JetStream file storage). Made with
 * `persistent: false`, it comes back empty.
 */
export class PrivateBroker {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly driver: 'redis' | 'nats',
    readonly port: number,
    readonly dir: string,
    readonly persistent: boolean,
  ) {}

  static async create(driver: 'redis' | 'nats', { persistent = true } = {}): Promise<PrivateBroker> {
    const dir = await mkdtemp(join(tmpdir(), `herald-${driver}-`));
    return new PrivateBroker(driver, await freePort(), dir, persistent);
  }

  get url(): string {
    return this.driver === 'redis' ? `redis://127.0.0.1:${this.port}` : `nats://127.0.0.1:${this.port}`;
  }

  /** Starts the broker (empty when not `persistent`) and resolves once it accepts clients. */
  async start(): Promise<void> {
    if (!this.persistent) {
      await rm(this.dir, { recursive: true, force: true });
      await mkdir(this.dir);
    }
    const [command, args] =
      this.driver === 'redis'
        ? [
            'redis-server',
            [
              '--port',
              String(this.port),
              '--bind',
              '127.0.0.1',
              '--dir',
              this.dir,
              '--save',
              '',
              '--appendonly',
              'yes',
              '--appendfsync',
              'always',
            ],
          ]
        : ['nats-server', ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.dir]];
    const ready = this.driver === 'redis' ? /Ready to accept connections/ : /Server is ready/;
    const server = await Server.start(command, args, ready);
    this.#child = server.child;
    this.#exited = server.exited;
  }

  /** Kills the broker (no clean shutdown, as a crash) and resolves once it is gone. */
  async kill(): Promise<void> {
    this.#child?.kill('SIGKILL');
    await this.#exited;
    this.#child = undefined;
  }

  /** Stops the broker and removes its data. */
  async destroy(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}
