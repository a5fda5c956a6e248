import { SetMap } from '../../core/set-map.js';
import type { PusherSocket } from './socket.js';

/**
 * Signed-in users of one app on this node (Pusher docs, User authentication): user id → its
 * connections, and who watches whom (Pusher docs, Watchlist events). Whether a user is online anywhere
 * is the cluster's presence store's to say (`Users`).
 */
export class UserRegistry {
  readonly #connections = new SetMap<string, PusherSocket>();
  /** watched user id → sockets whose watchlist names it */
  readonly #watchers = new SetMap<string, PusherSocket>();

  /** Adds a signed-in connection. */
  add(userId: string, socket: PusherSocket): void {
    this.#connections.add(userId, socket);
  }

  /** Removes a connection. */
  remove(userId: string, socket: PusherSocket): void {
    this.#connections.remove(userId, socket);
  }

  connections(userId: string): readonly PusherSocket[] {
    return [...(this.#connections.get(userId) ?? [])];
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
