import type { App } from '../../core/apps/app.js';
import { channelKind } from '../../core/channels/names.js';
import { Frame } from '../../core/frame.js';
import { CloseCode, ErrorCode } from './close-codes.js';
import { encodeObjectEvent } from './codec.js';
import type { PusherContext } from './context.js';
import { checkSignin } from './signin.js';
import type { PusherSocket } from './socket.js';

type WatchlistEvent = { name: 'online' | 'offline'; user_ids: string[] };

/**
 * User authentication (spec §5): `pusher:signin`, the sign-in deadline of apps that require it,
 * watchlist events and terminating a user's connections.
 */
export class Users {
  readonly #ctx: PusherContext;
  readonly #timeout = (socket: PusherSocket) => {
    socket.signinTimer = undefined;
    // Authorized means signed in, or subscribed to a private or presence channel (spec §5.1 item 6).
    const authorized =
      socket.user !== undefined || [...socket.channels.keys()].some((c) => channelKind(c).authorized);
    if (socket.state === 'open' && !authorized) {
      this.#ctx.fail(socket, CloseCode.UNAUTHORIZED, 'Connection is unauthorized: not signed in in time');
    }
  };

  constructor(ctx: PusherContext) {
    this.#ctx = ctx;
  }

  /** A connection was established: start the sign-in deadline if the app requires one. */
  opened(socket: PusherSocket, app: App): void {
    if (app.userAuthentication) {
      socket.signinTimer = setTimeout(this.#timeout, app.userAuthenticationTimeoutMs, socket);
    }
  }

  signin(socket: PusherSocket, data: unknown): void {
    const app = socket.app;
    if (socket.state !== 'open' || !app) return;
    const check = checkSignin(app, socket.id, data, socket.user);
    if (!check.ok) return this.#ctx.error(socket, CloseCode.UNAUTHORIZED, check.message);
    clearTimeout(socket.signinTimer);
    socket.signinTimer = undefined;
    const users = this.#ctx.state(app).users;
    const first = socket.user === undefined;
    socket.user = check.user;
    socket.connection.send(
      new Frame(encodeObjectEvent('pusher:signin_success', { user_data: check.userData })),
    );
    if (first && users.add(check.user.id, socket)) this.#announce(app, check.user.id, 'online');

    if (!app.watchlistEvents) return;
    users.unwatch(socket, socket.watchlist);
    socket.watchlist = check.watchlist;
    users.watch(socket, check.watchlist);
    if (check.dropped > 0) {
      this.#ctx.error(
        socket,
        ErrorCode.WATCHLIST_LIMIT,
        `Watchlist limit exceeded. Only the first ${app.maxWatchlistSize} user IDs are accepted.`,
      );
    }
    const online = check.watchlist.filter((id) => users.isOnline(id));
    const offline = check.watchlist.filter((id) => !users.isOnline(id));
    const events: WatchlistEvent[] = [];
    if (online.length > 0) events.push({ name: 'online', user_ids: online });
    if (offline.length > 0) events.push({ name: 'offline', user_ids: offline });
    if (events.length > 0) socket.connection.send(watchlistFrame(events));
  }

  /** A connection closed: forget its sign-in and watchlist, announce the user offline if it was the last. */
  closed(socket: PusherSocket, app: App): void {
    clearTimeout(socket.signinTimer);
    socket.signinTimer = undefined;
    const users = this.#ctx.state(app).users;
    users.unwatch(socket, socket.watchlist);
    if (socket.user && users.remove(socket.user.id, socket)) this.#announce(app, socket.user.id, 'offline');
  }

  /** Closes every connection signed in as `userId` (spec §5.5); returns how many. */
  terminate(app: App, userId: string): number {
    const sockets = this.#ctx.state(app).users.connections(userId);
    for (const socket of sockets)
      this.#ctx.fail(socket, CloseCode.UNAUTHORIZED, 'You got disconnected by the app.');
    return sockets.length;
  }

  #announce(app: App, userId: string, name: 'online' | 'offline'): void {
    if (!app.watchlistEvents) return;
    const watchers = this.#ctx.state(app).users.watchers(userId);
    if (watchers.size === 0) return;
    const frame = watchlistFrame([{ name, user_ids: [userId] }]);
    for (const watcher of watchers) watcher.connection.send(frame);
  }
}

function watchlistFrame(events: WatchlistEvent[]): Frame {
  return new Frame(encodeObjectEvent('pusher_internal:watchlist_events', { events }));
}
