import type { PusherSocket } from './socket.js';

/**
 * Signed-in users of one app on this node (spec §5.2): user id → its connections, and who watches whom
 * (spec §5.4). A user is online while at least one connection is signed in as it.
 */
export class UserRegistry {
  readonly #connections = new Map<string, Set<PusherSocket>>();
  /** watched user id → sockets whose watchlist names it */
  readonly #watchers = new Map<string, Set<PusherSocket>>();

  /** Adds a signed-in connection; true when the user just came online. */
  add(userId: string, socket: PusherSocket): boolean {
    const set = this.#connections.get(userId);
    if (set) {
      set.add(socket);
      return false;
    }
    this.#connections.set(userId, new Set([socket]));
    return true;
  }

  /** Removes a connection; true when that was the user's last one (the user went offline). */
  remove(userId: string, socket: PusherSocket): boolean {
    const set = this.#connections.get(userId);
    if (!set?.delete(socket)) return false;
    if (set.size > 0) return false;
    this.#connections.delete(userId);
    return true;
  }

  connections(userId: string): readonly PusherSocket[] {
    return [...(this.#connections.get(userId) ?? [])];
  }

  isOnline(userId: string): boolean {
    return this.#connections.has(userId);
  }

  watch(socket: PusherSocket, userIds: readonly string[]): void {
    for (const id of userIds) {
      let set = this.#watchers.get(id);
      if (!set) {
        set = new Set();
        this.#watchers.set(id, set);
      }
      set.add(socket);
    }
  }

  unwatch(socket: PusherSocket, userIds: readonly string[]): void {
    for (const id of userIds) {
      const set = this.#watchers.get(id);
      if (set?.delete(socket) && set.size === 0) this.#watchers.delete(id);
    }
  }

  watchers(userId: string): ReadonlySet<PusherSocket> {
    return this.#watchers.get(userId) ?? EMPTY;
  }
}

const EMPTY: ReadonlySet<PusherSocket> = new Set();
