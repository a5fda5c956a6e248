import type { Logger } from 'pino';
import { KeyedChain } from '../../core/keyed-chain.js';
import type { JoinResult, PresenceMember, PresenceStore } from '../../core/presence/store.js';
import type { NatsClient } from './connection.js';
import { bucketName, type Change, fromKeyToken, KvBucket, keyToken } from './kv.js';

/** Users of one channel, each with its info and the sockets holding it, every socket tagged with its node. */
type Members = Map<string, { info: unknown; sockets: Map<string, string> }>;
type Departure = { namespace: string; channel: string; userId: string };

/**
 * Presence shared by every node through a JetStream key-value bucket (one per cluster prefix). Each
 * channel is one key holding the channel's members and their sockets; every change is a
 * compare-and-set on the key's revision, retried after a conflict, so joins and leaves are atomic and
 * the member limit holds under concurrency. Each node also keeps one index key per channel where it
 * holds sockets, written before the channel's key, so survivors find a dead node's channels.
 *
 * Keys: `ch.<channel token>` and `node.<node token>.<channel token>`, where the channel token is the
 * base64url of `namespace NUL channel`, valid whatever the channel name holds.
 */
export class NatsPresenceStore implements PresenceStore {
  readonly #bucket: KvBucket;
  readonly #logger: Logger;
  /** This node's sockets per channel token, mirrored by the index keys. */
  readonly #local = new Map<string, Set<string>>();
  /** Index writes per channel token, kept in order. */
  readonly #indexWrites = new KeyedChain();

  constructor(
    client: NatsClient,
    readonly nodeId: string,
    readonly prefix: string,
    logger: Logger,
  ) {
    this.#bucket = new KvBucket(client, bucketName(prefix, 'presence'));
    this.#logger = logger;
  }

  async join(
    namespace: string,
    channel: string,
    socketId: string,
    member: PresenceMember,
    maxMembers: number,
  ): Promise<JoinResult> {
    const token = channelToken(namespace, channel);
    const tracked = this.#local.get(token)?.has(socketId) ?? false;
    let result: JoinResult;
    try {
      // The index names the channel before the channel's key holds this node's socket.
      await this.#track(token, socketId);
      result = await this.#change<JoinResult>(token, (members) => {
        const user = members.get(member.userId);
        if (user) {
          if (user.sockets.has(socketId)) return { result: 'existing', write: false };
          user.sockets.set(socketId, this.nodeId);
          return { result: 'existing', write: true };
        }
        if (members.size >= maxMembers) return { result: 'full', write: false };
        members.set(member.userId, {
          info: member.info ?? null,
          sockets: new Map([[socketId, this.nodeId]]),
        });
        return { result: 'added', write: true };
      });
    } catch (err) {
      if (!tracked) {
        await this.#untrack(token, socketId).catch((e) =>
          this.#logger.debug({ err: e }, 'presence untrack failed'),
        );
      }
      throw err;
    }
    if (result === 'full') await this.#untrack(token, socketId);
    return result;
  }

  async leave(namespace: string, channel: string, socketId: string, userId: string): Promise<boolean> {
    const token = channelToken(namespace, channel);
    const left = await this.#change(token, (members) => {
      const owner = members.get(userId)?.sockets.has(socketId)
        ? userId
        : [...members].find(([, user]) => user.sockets.has(socketId))?.[0];
      if (owner === undefined) return { result: false, write: false };
      const user = members.get(owner)!;
      user.sockets.delete(socketId);
      if (user.sockets.size > 0) return { result: false, write: true };
      members.delete(owner);
      return { result: true, write: true };
    });
    await this.#untrack(token, socketId);
    return left;
  }

  async members(namespace: string, channel: string): Promise<PresenceMember[]> {
    const members = load(await this.#bucket.get(`ch.${channelToken(namespace, channel)}`));
    return [...members].map(([userId, user]) => ({ userId, info: user.info }));
  }

  async count(namespace: string, channel: string): Promise<number> {
    return load(await this.#bucket.get(`ch.${channelToken(namespace, channel)}`)).size;
  }

  async removeNode(nodeId: string): Promise<Departure[]> {
    const prefix = `node.${keyToken(nodeId)}.`;
    const departed: Departure[] = [];
    for (const indexKey of await this.#bucket.keys(`${prefix}>`)) {
      const token = indexKey.slice(prefix.length);
      const gone = await this.#change(token, (members) => {
        const users: string[] = [];
        let write = false;
        for (const [userId, user] of members) {
          for (const [socketId, node] of user.sockets) {
            if (node !== nodeId) continue;
            user.sockets.delete(socketId);
            write = true;
          }
          if (user.sockets.size === 0) {
            members.delete(userId);
            users.push(userId);
          }
        }
        return { result: users, write };
      });
      const text = fromKeyToken(token);
      const cut = text.indexOf('\0');
      const namespace = text.slice(0, cut);
      const channel = text.slice(cut + 1);
      for (const userId of gone) departed.push({ namespace, channel, userId });
      await this.#bucket.delete(indexKey);
    }
    return departed;
  }

  close(): Promise<void> {
    return this.#bucket.close();
  }

  /** Runs `change` on the channel's members as one compare-and-set; an emptied channel's key is deleted. */
  #change<T>(token: string, change: (members: Members) => { result: T; write: boolean }): Promise<T> {
    return this.#bucket.change(`ch.${token}`, (value): Change<T> => {
      const members = load(value);
      const { result, write } = change(members);
      return { result, value: write ? (members.size > 0 ? store(members) : null) : undefined };
    });
  }

  /** Records one of this node's sockets in the channel; resolves once the index key is written. */
  #track(token: string, socketId: string): Promise<void> {
    let sockets = this.#local.get(token);
    if (!sockets) {
      sockets = new Set();
      this.#local.set(token, sockets);
    }
    const first = sockets.size === 0;
    sockets.add(socketId);
    return this.#index(token, first ? 'put' : undefined);
  }

  /** Forgets one of this node's sockets; the index key goes with the node's last socket in the channel. */
  #untrack(token: string, socketId: string): Promise<void> {
    const sockets = this.#local.get(token);
    if (!sockets?.delete(socketId) || sockets.size > 0) return this.#index(token);
    this.#local.delete(token);
    return this.#index(token, 'delete');
  }

  /** Queues a write of the index key behind the earlier ones; without `op`, waits for those. */
  #index(token: string, op?: 'put' | 'delete'): Promise<void> {
    if (!op) return this.#indexWrites.settled(token);
    const key = `node.${keyToken(this.nodeId)}.${token}`;
    const next = this.#indexWrites.run(token, () =>
      op === 'put' ? this.#bucket.put(key, '') : this.#bucket.delete(key),
    );
    next.catch((err) => {
      this.#logger.warn({ err: (err as Error).message, op }, 'presence index not written');
    });
    return next;
  }
}

const channelToken = (namespace: string, channel: string) => keyToken(`${namespace}\0${channel}`);

function load(value: string | null): Members {
  if (value === null) return new Map();
  const stored = JSON.parse(value) as Record<string, { i: unknown; s: Record<string, string> }>;
  return new Map(
    Object.entries(stored).map(([userId, user]) => [
      userId,
      { info: user.i, sockets: new Map(Object.entries(user.s)) },
    ]),
  );
}

function store(members: Members): string {
  return JSON.stringify(
    Object.fromEntries(
      [...members].map(([userId, user]) => [userId, { i: user.info, s: Object.fromEntries(user.sockets) }]),
    ),
  );
}
