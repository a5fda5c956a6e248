import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { parseClusterUrl, parseSentinelUrl } from '../config/redis-url.js';

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
