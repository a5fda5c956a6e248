import type { JoinResult, PresenceMember, PresenceStore } from '../../core/presence/store.js';
import type { RedisClient } from './clients.js';

/**
 * Presence shared by every node through Redis. Per channel: members (user → info), sockets (socket →
 * user) and connection counts per user, changed only by Lua scripts so each join and leave is atomic.
 * Each node also keeps an index of the sockets it holds, so survivors can remove a dead node's entries.
 * The channel's keys share one hash tag, so the scripts also run on Redis Cluster. Runs on the set's
 * `commands` connection, which it does not close.
 */
export class RedisPresenceStore implements PresenceStore {
  readonly #redis: RedisClient;

  constructor(
    redis: RedisClient,
    readonly nodeId: string,
    readonly prefix: string,
  ) {
    this.#redis = redis;
    this.#redis.defineCommand('heraldJoin', { numberOfKeys: 3, lua: JOIN });
    this.#redis.defineCommand('heraldLeave', { numberOfKeys: 3, lua: LEAVE });
  }

  async join(
    namespace: string,
    channel: string,
    socketId: string,
    member: PresenceMember,
    maxMembers: number,
  ): Promise<JoinResult> {
    const keys = this.#keys(namespace, channel);
    await this.#redis.sadd(this.#nodeKey(this.nodeId), entry(namespace, channel, socketId));
    const info = JSON.stringify(member.info ?? null);
    const result = (await this.#call('heraldJoin', keys, [
      socketId,
      member.userId,
      info,
      String(maxMembers),
    ])) as JoinResult;
    if (result === 'full')
      await this.#redis.srem(this.#nodeKey(this.nodeId), entry(namespace, channel, socketId));
    return result;
  }

  async leave(namespace: string, channel: string, socketId: string): Promise<boolean> {
    const removed = await this.#call('heraldLeave', this.#keys(namespace, channel), [socketId]);
    await this.#redis.srem(this.#nodeKey(this.nodeId), entry(namespace, channel, socketId));
    return removed !== null;
  }

  async members(namespace: string, channel: string): Promise<PresenceMember[]> {
    const all = await this.#redis.hgetall(this.#keys(namespace, channel)[0]);
    return Object.entries(all).map(([userId, info]) => ({ userId, info: JSON.parse(info) as unknown }));
  }

  async count(namespace: string, channel: string): Promise<number> {
    return this.#redis.hlen(this.#keys(namespace, channel)[0]);
  }

  async removeNode(nodeId: string): Promise<{ namespace: string; channel: string; userId: string }[]> {
    const key = this.#nodeKey(nodeId);
    const entries = await this.#redis.smembers(key);
    const left: { namespace: string; channel: string; userId: string }[] = [];
    for (const e of entries) {
      const [namespace, channel, socketId] = e.split('\0') as [string, string, string];
      const userId = await this.#call('heraldLeave', this.#keys(namespace, channel), [socketId]);
      if (typeof userId === 'string') left.push({ namespace, channel, userId });
      await this.#redis.srem(key, e);
    }
    return left;
  }

  /** Nothing to stop: every change is one awaited command. */
  async close(): Promise<void> {}

  #call(command: 'heraldJoin' | 'heraldLeave', keys: string[], args: string[]): Promise<unknown> {
    const redis = this.#redis as unknown as Record<string, (...a: string[]) => Promise<unknown>>;
    return redis[command]!(...keys, ...args);
  }

  #keys(namespace: string, channel: string): [string, string, string] {
    const base = `${this.prefix}:presence:{${namespace}:${channel}}`;
    return [`${base}:members`, `${base}:sockets`, `${base}:connections`];
  }

  #nodeKey(nodeId: string): string {
    return `${this.prefix}:presence-node:${nodeId}`;
  }
}

const entry = (namespace: string, channel: string, socketId: string) =>
  `${namespace}\0${channel}\0${socketId}`;

/** KEYS: members, sockets, connections. ARGV: socket, user, info JSON, max members. */
const JOIN = `
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'existing' end
local n = redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
if n == 1 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then
  redis.call('HDEL', KEYS[3], ARGV[2])
  return 'full'
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if n > 1 then return 'existing' end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 'added'
`;

/** KEYS: members, sockets, connections. ARGV: socket. Returns the user id when the user left, else nil. */
const LEAVE = `
local user = redis.call('HGET', KEYS[2], ARGV[1])
if not user then return nil end
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('HINCRBY', KEYS[3], user, -1) > 0 then return nil end
redis.call('HDEL', KEYS[3], user)
redis.call('HDEL', KEYS[1], user)
return user
`;
