import { Redis, type RedisOptions } from 'ioredis';
import { parseSentinelUrl } from '../config/redis-url.js';

/**
 * A Redis connection for `url`: `redis://` or `rediss://` (one server), or `redis+sentinel://` (the
 * master a set of Sentinels names, found again after a failover).
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const sentinel = parseSentinelUrl(url);
  if (sentinel) return new Redis({ ...sentinel, ...options });
  return new Redis(url, options);
}
