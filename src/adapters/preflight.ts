import { connect, ErrorCode } from 'nats';
import { HeraldError } from '../core/errors.js';
import { createRedis } from '../core/redis-client.js';

/**
 * The broker lacks something Herald needs to work. Found at start, so that a node that answers
 * `/ready` 200 can also do what it is asked (ARCHITECTURE.md "Facing the internet").
 */
export class BrokerUnusableError extends HeraldError {
  constructor(
    code: 'nats_no_jetstream' | 'redis_no_scripting' | 'redis_read_only' | 'broker_unreachable',
    message: string,
  ) {
    super(code, message);
  }
}

/** How long a preflight waits for the broker to answer. */
const PREFLIGHT_TIMEOUT_MS = 5000;

/**
 * Presence, occupancy, cache channels and the webhook outbox live in JetStream key-value buckets: a
 * NATS server without JetStream would carry the messages and refuse every presence subscription.
 */
export async function checkNats(url: string): Promise<void> {
  const nc = await connect({
    servers: url.split(',').map((s) => s.trim()),
    name: 'herald-preflight',
    timeout: PREFLIGHT_TIMEOUT_MS,
  }).catch((err: Error) => {
    throw new BrokerUnusableError('broker_unreachable', `cannot reach NATS: ${err.message}`);
  });
  try {
    await nc.jetstreamManager({ timeout: PREFLIGHT_TIMEOUT_MS });
  } catch (err) {
    // The JetStream API has no responders when the server runs without JetStream.
    if ((err as { code?: unknown }).code !== ErrorCode.NoResponders) throw err;
    throw new BrokerUnusableError(
      'nats_no_jetstream',
      'the NATS server has no JetStream, which Herald needs for presence, occupancy, cache channels ' +
        'and webhooks: start it with `nats-server -js` (or add `jetstream {}` to its config file)',
    );
  } finally {
    await nc.close();
  }
}

/** A script that writes a short-lived key, as presence and occupancy changes do. */
const WRITE_PROBE = "redis.call('SET', KEYS[1], '1', 'PX', 10000) return 1";

/**
 * Presence and occupancy change through Lua scripts that write keys under the prefix (atomic joins and
 * leaves): a Redis that refuses EVAL (a renamed command, an ACL without @scripting) or writes (a
 * read-only replica, an ACL without the prefix's keys) would refuse every presence subscription.
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
