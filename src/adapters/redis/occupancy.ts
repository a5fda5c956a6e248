import type { OccupancyStore } from '../../core/channels/occupancy.js';
import type { RedisClient } from './clients.js';

/**
 * Occupancy in Redis: per channel, the set of nodes with subscribers, changed by Lua scripts; per node,
 * an index of its channels so survivors can vacate a dead node's channels. Runs on the set's `commands`
 * connection, which it does not close.
 */
export class RedisOccupancyStore implements OccupancyStore {
  readonly #redis: RedisClient;

  constructor(
    redis: RedisClient,
    readonly nodeId: string,
    readonly prefix: string,
  ) {
    this.#redis = redis;
    this.#redis.defineCommand('heraldOccupy', { numberOfKeys: 1, lua: OCCUPY });
    this.#redis.defineCommand('heraldVacate', { numberOfKeys: 1, lua: VACATE });
  }

  async occupy(namespace: string, channel: string): Promise<boolean> {
    await this.#redis.sadd(this.#nodeKey(this.nodeId), `${namespace}\0${channel}`);
    return (await this.#call('heraldOccupy', this.#key(namespace, channel), this.nodeId)) === 1;
  }

  async vacate(namespace: string, channel: string): Promise<boolean> {
    const vacated = (await this.#call('heraldVacate', this.#key(namespace, channel), this.nodeId)) === 1;
    await this.#redis.srem(this.#nodeKey(this.nodeId), `${namespace}\0${channel}`);
    return vacated;
  }

  async removeNode(nodeId: string): Promise<{ namespace: string; channel: string }[]> {
    const index = this.#nodeKey(nodeId);
    const vacated: { namespace: string; channel: string }[] = [];
    for (const entry of await this.#redis.smembers(index)) {
      const [namespace, channel] = entry.split('\0') as [string, string];
      if ((await this.#call('heraldVacate', this.#key(namespace, channel), nodeId)) === 1) {
        vacated.push({ namespace, channel });
      }
      await this.#redis.srem(index, entry);
    }
    return vacated;
  }

  /** Nothing to stop: every change is one awaited command. */
  async close(): Promise<void> {}

  #call(command: 'heraldOccupy' | 'heraldVacate', key: string, node: string): Promise<unknown> {
    const redis = this.#redis as unknown as Record<string, (...a: string[]) => Promise<unknown>>;
    return redis[command]!(key, node);
  }

  #key(namespace: string, channel: string): string {
    return `${this.prefix}:occupancy:{${namespace}:${channel}}`;
  }

  #nodeKey(nodeId: string): string {
    return `${this.prefix}:occupancy-node:${nodeId}`;
  }
}

/** 1 when this node's arrival made the channel occupied. */
const OCCUPY = `
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 and redis.call('SCARD', KEYS[1]) == 1 then return 1 end
return 0
`;

/** 1 when this node's departure left the channel empty everywhere. */
const VACATE = `
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 and redis.call('SCARD', KEYS[1]) == 0 then return 1 end
return 0
`;
