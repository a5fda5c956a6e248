import type { JoinResult, PresenceMember, PresenceStore } from './store.js';

interface Entry {
  member: PresenceMember;
  sockets: Set<string>;
}

/** Presence for a single node: everything lives in this process. */
export class MemoryPresenceStore implements PresenceStore {
  readonly #channels = new Map<string, Map<string, Entry>>();

  async join(
    namespace: string,
    channel: string,
    socketId: string,
    member: PresenceMember,
    maxMembers: number,
  ): Promise<JoinResult> {
    const key = `${namespace}\0${channel}`;
    let users = this.#channels.get(key);
    const existing = users?.get(member.userId);
    if (existing) {
      existing.sockets.add(socketId);
      return 'existing';
    }
    if (users && users.size >= maxMembers) return 'full';
    if (!users) {
      users = new Map();
      this.#channels.set(key, users);
    }
    users.set(member.userId, { member, sockets: new Set([socketId]) });
    return 'added';
  }

  async leave(namespace: string, channel: string, socketId: string, userId: string): Promise<boolean> {
    const key = `${namespace}\0${channel}`;
    const users = this.#channels.get(key);
    const entry = users?.get(userId);
    if (!users || !entry?.sockets.delete(socketId)) return false;
    if (entry.sockets.size > 0) return false;
    users.delete(userId);
    if (users.size === 0) this.#channels.delete(key);
    return true;
  }

  async members(namespace: string, channel: string): Promise<PresenceMember[]> {
    const users = this.#channels.get(`${namespace}\0${channel}`);
    return users ? [...users.values()].map((e) => e.member) : [];
  }

  async count(namespace: string, channel: string): Promise<number> {
    return this.#channels.get(`${namespace}\0${channel}`)?.size ?? 0;
  }

  /** One process holds every socket it knows: no other node's entries are here. */
  async removeNode(): Promise<{ namespace: string; channel: string; userId: string }[]> {
    return [];
  }

  async close(): Promise<void> {}
}
