import { BrokerUnusableError } from '../parts.js';
import { createRedis } from './clients.js';

/** How long the preflight waits for Redis to answer. */
const PREFLIGHT_TIMEOUT_MS = 5000;

/** A script that writes a short-lived key, as presence and occupancy changes do. */
const WRITE_PROBE = "redis.call('SET', KEYS[1], '1', 'PX', 10000) return 1";

/**
 * Presence and occupancy change through Lua scripts that write keys under the prefix (atomic joins and
 * leaves): a Redis that refuses EVAL (a renamed command, an ACL without @scripting) or writes (a
 * read-only replica, an ACL without the prefix's keys) would refuse every presence subscription.
 *
 * It asks on a probe connection of its own, closed before it resolves: the set's connections retry
 * without end, and an unreachable Redis must stop the start at once with a message instead.
 */
export async function checkRedis(url: string, prefix: string): Promise<void> {
  const redis = createRedis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: PREFLIGHT_TIMEOUT_MS,
    connectionName: 'herald-preflight',
    retryStrategy: () => null,
  });
  // Connection errors come back as the rejections below, with the step that failed.
  redis.on('error', () => {});
  try {
    await redis.connect().catch((err: Error) => {
      throw new BrokerUnusableError('broker_unreachable', `cannot reach Redis: ${err.message}`);
    });
    const answer = await redis.eval('return 1', 0).catch((err: Error) => {
      throw new BrokerUnusableError(
        'redis_no_scripting',
        `Redis refused a Lua script (${err.message}); Herald needs EVAL and EVALSHA for atomic presence ` +
          'and occupancy changes: do not rename or disable them, and allow @scripting to its ACL user',
      );
    });
    if (answer !== 1) throw new Error(`Redis answered ${String(answer)} to "return 1"`);
    await redis.eval(WRITE_PROBE, 1, `${prefix}:preflight`).catch((err: Error) => {
      throw new BrokerUnusableError(
        'redis_read_only',
        `Redis refused a write under "${prefix}:" (${err.message}); Herald keeps presence, occupancy and ` +
          'webhooks there: point it at the master, not a read-only replica, and allow its ACL user those keys',
      );
    });
  } finally {
    redis.disconnect();
  }
}
