import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { parseClusterUrl, parseSentinelUrl } from './url.js';

/** One Redis server (or the master Sentinels name), or a Redis Cluster: the commands Herald uses are the same. */
export type RedisClient = Redis | Cluster;

/**
 * A Redis connection for `url`: `redis://` or `rediss://` (one server), `redis+sentinel://` (the
 * master a set of Sentinels names, found again after a failover) or `redis+cluster://` (a Redis
 * Cluster, each command sent to the node that holds its key).
 */
export function createRedis(url: string, options: RedisOptions = {}): RedisClient {
  const cluster = parseClusterUrl(url);
  if (cluster) {
    const { nodes, ...auth } = cluster;
    const { lazyConnect, ...redisOptions } = options;
    return new Cluster(nodes, {
      ...(lazyConnect !== undefined ? { lazyConnect } : {}),
      redisOptions: { ...redisOptions, ...auth },
    });
  }
  const sentinel = parseSentinelUrl(url);
  if (sentinel) return new Redis({ ...sentinel, ...options });
  return new Redis(url, options);
}

/**
 * A node's two Redis connections, shared by every Redis part of its set:
 * - `commands`: the transport's publishes and every command of presence, occupancy, cache and outbox
 *   (ioredis pipelines them; one connection keeps one part's writes in the order they were made);
 * - `subscriber`: the transport's subscriptions (a connection in subscriber mode takes no other command).
 *
 * Created with the set, opened by `start` (the adapter's start; a command sent earlier opens them too),
 * closed once by `close` when the set closes. Both reconnect on their own without limit, and
 * `subscriber` subscribes again to every topic after a reconnect; commands sent meanwhile wait for the
 * connection (what was published meanwhile is lost and logged by the adapter). Trouble with either
 * connection is logged here, once for the whole set.
 */
export class RedisClients {
  readonly commands: RedisClient;
  readonly subscriber: RedisClient;
  #started: Promise<void> | undefined;
  #closed = false;

  constructor(url: string, logger: Logger, options: RedisOptions = {}) {
    const common: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: null, ...options };
    this.commands = createRedis(url, { ...common, connectionName: 'herald-commands' });
    this.subscriber = createRedis(url, { ...common, connectionName: 'herald-subscriber' });
    for (const [name, client] of [
      ['commands', this.commands],
      ['subscriber', this.subscriber],
    ] as const) {
      client.on('error', (err: Error) => logger.warn({ err: err.message, client: name }, 'redis error'));
      client.on('reconnecting', () => logger.warn({ client: name }, 'redis reconnecting'));
      client.on('ready', () => logger.info({ client: name }, 'redis ready'));
    }
  }

  /** Resolves once both connections are ready; idempotent. Rejects when the set is closed. */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the redis connections are closed'));
    this.#started ??= Promise.all([ready(this.commands), ready(this.subscriber)]).then(
      () => undefined,
      (err: unknown) => {
        this.#started = undefined; // the next start tries again
        throw err;
      },
    );
    return this.#started;
  }

  /** Disconnects both, without waiting for replies still due. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.commands.disconnect();
    this.subscriber.disconnect();
  }
}

/** Resolves once `client` is ready: connecting it, or waiting for the connection already under way. */
function ready(client: RedisClient): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'wait') return client.connect();
  return new Promise<void>((resolve, reject) => {
    const onReady = () => {
      client.off('end', onEnd);
      resolve();
    };
    const onEnd = () => {
      client.off('ready', onReady);
      reject(new Error('the redis connection ended before it was ready'));
    };
    client.once('ready', onReady);
    client.once('end', onEnd);
  });
}
