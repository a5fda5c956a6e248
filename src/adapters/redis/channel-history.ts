import { newEpoch } from '../../core/channel-history/memory.js';
import type {
  ChannelHistory,
  HistoryEvent,
  HistoryPage,
  NewEvent,
  ReadAfter,
  StreamLimits,
  StreamPosition,
} from '../../core/channel-history/store.js';
import type { RedisClient } from './clients.js';

/**
 * Channel streams and resume states in Redis, shared by every node (docs/recovery.md). Per channel: a
 * Redis stream whose entry ids are the offsets (`<offset>-1`), each entry with the append time (`t`,
 * the server's clock), the frame (`d`) and the socket left out (`x`), and a hash with the epoch, the
 * newest offset and the events' time to live. Both are changed only by Lua scripts, so an append is
 * atomic, and expire together `streamTtlMs` after the last append: a Redis that restarts without its
 * data, or a stream forgotten, begins again under a new epoch. The channel's keys share one hash tag,
 * so the scripts also run on Redis Cluster. Runs on the set's `commands` connection, which it does not
 * close.
 */
export class RedisChannelHistory implements ChannelHistory {
  readonly #redis: RedisClient;

  constructor(
    redis: RedisClient,
    readonly prefix: string,
  ) {
    this.#redis = redis;
    this.#redis.defineCommand('heraldHistoryAppend', { numberOfKeys: 2, lua: APPEND });
    this.#redis.defineCommand('heraldHistoryRead', { numberOfKeys: 2, lua: READ });
  }

  async append(
    namespace: string,
    channel: string,
    event: NewEvent,
    limits: StreamLimits,
  ): Promise<StreamPosition> {
    const [epoch, offset] = (await this.#call('heraldHistoryAppend', this.#keys(namespace, channel), [
      event.text,
      event.except ?? '',
      String(limits.maxEvents),
      String(limits.ttlMs),
      String(Math.max(limits.ttlMs, limits.streamTtlMs)),
      newEpoch(),
    ])) as [string, number];
    return { epoch, offset: Number(offset) };
  }

  async read(namespace: string, channel: string, after: ReadAfter, limit: number): Promise<HistoryPage> {
    const answer = (await this.#call('heraldHistoryRead', this.#keys(namespace, channel), [
      after.epoch ?? '',
      String(after.offset),
      String(Math.max(1, limit)),
    ])) as [] | [string, number, number, [string, string[]][]];
    if (answer.length === 0) {
      return { position: undefined, events: [], complete: after.epoch === undefined && after.offset === 0 };
    }
    const [epoch, top, complete, entries] = answer;
    return {
      position: { epoch, offset: Number(top) },
      events: entries.map(eventOf),
      complete: Number(complete) === 1,
    };
  }

  async position(namespace: string, channel: string): Promise<StreamPosition | undefined> {
    const [epoch, top] = (await this.#redis.hmget(this.#keys(namespace, channel)[1], 'epoch', 'top')) as [
      string | null,
      string | null,
    ];
    return epoch === null || top === null ? undefined : { epoch, offset: Number(top) };
  }

  async saveResumeState(namespace: string, token: string, state: unknown, ttlMs: number): Promise<void> {
    await this.#redis.set(this.#resumeKey(namespace, token), JSON.stringify(state), 'PX', ttlMs);
  }

  async takeResumeState(namespace: string, token: string): Promise<unknown> {
    const kept = await this.#redis.getdel(this.#resumeKey(namespace, token));
    return kept === null ? undefined : (JSON.parse(kept) as unknown);
  }

  /** Nothing to stop: no timer, no connection of its own. */
  async close(): Promise<void> {}

  #keys(namespace: string, channel: string): [string, string] {
    const tag = `{${namespace}:${channel}}`;
    return [`${this.prefix}:history:${tag}:events`, `${this.prefix}:history:${tag}:meta`];
  }

  #resumeKey(namespace: string, token: string): string {
    return `${this.prefix}:resume:${namespace}:${token}`;
  }

  #call(command: string, keys: string[], args: string[]): Promise<unknown> {
    const redis = this.#redis as unknown as Record<string, (...a: string[]) => Promise<unknown>>;
    return redis[command]!(...keys, ...args);
  }
}

/** A stream entry (`[id, [field, value, …]]`) as an event. */
function eventOf([id, fields]: [string, string[]]): HistoryEvent {
  let text = '';
  let except: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 'd') text = fields[i + 1]!;
    else if (fields[i] === 'x') except = fields[i + 1];
  }
  const offset = Number(id.slice(0, id.indexOf('-')));
  return except === undefined ? { offset, text } : { offset, text, except };
}

/**
 * Drops the oldest entries appended more than the stream's ttl ago; `now` is the server's clock in
 * milliseconds, `id` an entry id of an offset (written out whole: Lua prints large numbers with an
 * exponent).
 */
const EXPIRE = `
local function expire(stream, ttl, now)
  while true do
    local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
    if #head == 0 then return end
    local fields = head[1][2]
    local t = 0
    for i = 1, #fields, 2 do
      if fields[i] == 't' then t = tonumber(fields[i + 1]) end
    end
    if now - t < ttl then return end
    redis.call('XDEL', stream, head[1][1])
  end
end
local function id(offset) return string.format('%.0f', offset) .. '-1' end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
`;

/**
 * KEYS: stream, meta. ARGV: frame, socket left out ('' for none), maxEvents, ttlMs, streamTtlMs, the
 * epoch of a stream begun now. Returns {epoch, offset}.
 */
const APPEND = `${EXPIRE}
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[6]
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', 0)
end
local top = redis.call('HINCRBY', KEYS[2], 'top', 1)
redis.call('HSET', KEYS[2], 'ttl', ARGV[4])
if ARGV[2] == '' then
  redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], id(top), 't', now, 'd', ARGV[1])
else
  redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], id(top), 't', now, 'd', ARGV[1], 'x', ARGV[2])
end
expire(KEYS[1], tonumber(ARGV[4]), now)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {epoch, top}
`;

/**
 * KEYS: stream, meta. ARGV: the epoch asked for ('' for the current), the offset after which to read,
 * the most events. Returns {} without a stream, else {epoch, newest offset, complete (1 or 0), entries}.
 */
const READ = `${EXPIRE}
local meta = redis.call('HMGET', KEYS[2], 'epoch', 'top', 'ttl')
if not meta[1] then return {} end
local epoch = meta[1]
local top = tonumber(meta[2])
expire(KEYS[1], tonumber(meta[3]), now)
local after = tonumber(ARGV[2])
local oldest = top + 1
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #head > 0 then oldest = tonumber(string.match(head[1][1], '^(%d+)')) end
local known = (ARGV[1] == '' or ARGV[1] == epoch) and after <= top
local complete = known and after >= oldest - 1
local from = oldest
if complete then from = after + 1 end
local entries = redis.call('XRANGE', KEYS[1], id(from), '+', 'COUNT', ARGV[3])
return {epoch, top, complete and 1 or 0, entries}
`;
