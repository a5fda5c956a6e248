import { SetMap } from '../../core/set-map.js';
import type { PusherSocket } from './socket.js';

/**
 * Signed-in users of one app on this node (spec §5.2): user id → its connections, and who watches whom
 * (spec §5.4). A user is online while at least one connection is signed in as it.
 */
export class UserRegistry {
  readonly #connections = new SetMap<string, PusherSocket>();
  /** watched user id → sockets whose watchlist names it */
  readonly #watchers = new SetMap<string, PusherSocket>();

  /** Adds a signed-in connection; true when the user just came online. */
  add(userId: string, socket: PusherSocket): boolean {
    return this.#connections.add(userId, socket);
  }

  /** Removes a connection; true when that was the user's last one (the user went offline). */
  remove(userId: string, socket: PusherSocket): boolean {
    return this.#connections.remove(userId, socket);
  }

  connections(userId: string): readonly PusherSocket[] {
    return [...(this.#connections.get(userId) ?? [])];
  }

  isOnline(userId: string): boolean {
    return this.#connections.has(userId);
  }

  watch(socket: PusherSocket, userIds: readonly string[]): void {
    for (const id of userIds) this.#watchers.add(id, socket);
  }

  unwatch(socket: PusherSocket, userIds: readonly string[]): void {
    for (const id of userIds) this.#watchers.remove(id, socket);
  }

  watchers(userId: string): ReadonlySet<PusherSocket> {
    return this.#watchers.get(userId) ?? EMPTY;
  }
}

const EMPTY: ReadonlySet<PusherSocket> = new Set();
