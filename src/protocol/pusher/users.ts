import type { App } from '../../core/apps/app.js';
import { channelKind } from '../../core/channels/names.js';
import { Frame } from '../../core/frame.js';
import { encodeObjectEvent } from './codec.js';
import type { UsersContext, UsersOptions } from './context.js';
import { pusherError } from './errors.js';
import { checkSignin } from './signin.js';
import type { PusherSocket } from './socket.js';

type WatchlistEvent = { name: 'online' | 'offline'; user_ids: string[] };

/**
 * Who is signed in, cluster-wide, for watchlist apps: a presence "channel" no real channel can be
 * named ('#' is not allowed in channel names), one member per signed-in user, one entry per
 * connection. The presence store decides atomically when a user comes online or goes offline
 * anywhere, and cleans up after a node that died (see `cleanUpAfterNode`).
 */
export const SIGNED_IN = '#signed-in';

/** The cluster operation that tells every node's watchers that a user came online or went offline. */
export const WATCHLIST_OP = 'pusher.watchlist';

/**
 * User authentication (Pusher docs, User authentication): `pusher:signin`, the sign-in deadline of
 * apps that require it, watchlist events (cluster-wide) and terminating a user's connections.
 */
export class Users {
  readonly #ctx: UsersContext;
  readonly #adapter: UsersOptions['adapter'];
  readonly #presence: UsersOptions['presence'];
  readonly #logger: UsersOptions['logger'];
  readonly #timeout = (socket: PusherSocket) => {
    socket.signinTimer = undefined;
    // Authorized means signed in, or subscribed to a private or presence channel (Pusher docs,
    // Authorized connections).
    const authorized =
      socket.user !== undefined || [...socket.channels.keys()].some((c) => channelKind(c).authorized);
    if (socket.state === 'open' && !authorized) {
      this.#ctx.answer(socket, pusherError('SIGNIN_TIMEOUT'));
    }
  };

  constructor(ctx: UsersContext) {
    this.#ctx = ctx;
    const { adapter, presence, logger } = ctx.options;
    this.#adapter = adapter;
    this.#presence = presence;
    this.#logger = logger;
  }

  /** A connection was established: start the sign-in deadline if the app requires one. */
  opened(socket: PusherSocket, app: App): void {
    if (app.userAuthentication) {
      socket.signinTimer = setTimeout(this.#timeout, app.userAuthenticationTimeoutMs, socket);
    }
  }

  async signin(socket: PusherSocket, data: unknown): Promise<void> {
    const app = socket.app;
    if (socket.state !== 'open' || !app) return;
    const check = checkSignin(app, socket.id, data, socket.user, this.#ctx.options.now());
    if (!check.ok) return this.#ctx.answer(socket, check);
    clearTimeout(socket.signinTimer);
    socket.signinTimer = undefined;
    const state = this.#ctx.state(app);
    const first = socket.user === undefined;
    socket.user = check.user;
    state.users.add(check.user.id, socket);
    // Recorded before the client hears of its success: from then on it counts as signed in everywhere.
    let signedIn: Set<string> | undefined;
    if (app.watchlistEvents) {
      const presence = this.#presence;
      try {
        if (first) {
          const member = { userId: check.user.id, info: null };
          const joined = await presence.join(
            state.namespace,
            SIGNED_IN,
            socket.id,
            member,
            Number.MAX_SAFE_INTEGER,
          );
          if (joined === 'added') await this.announce(app, check.user.id, 'online');
        }
        if (check.watchlist.length > 0) {
          signedIn = new Set((await presence.members(state.namespace, SIGNED_IN)).map((m) => m.userId));
        }
      } catch (err) {
        this.#logger.error({ err, socketId: socket.id }, 'sign-in not recorded for watchlists');
      }
    }
    if (socket.state !== 'open') return;
    socket.connection.send(
      new Frame(encodeObjectEvent('pusher:signin_success', { user_data: check.userData })),
    );
    if (!app.watchlistEvents) return;
    const users = state.users;
    users.unwatch(socket, socket.watchlist);
    socket.watchlist = check.watchlist;
    users.watch(socket, check.watchlist);
    if (check.dropped > 0) {
      this.#ctx.answer(socket, pusherError('WATCHLIST_LIMIT', app.maxWatchlistSize));
    }
    if (!signedIn) return;
    const online = check.watchlist.filter((id) => signedIn.has(id));
    const offline = check.watchlist.filter((id) => !signedIn.has(id));
    const events: WatchlistEvent[] = [];
    if (online.length > 0) events.push({ name: 'online', user_ids: online });
    if (offline.length > 0) events.push({ name: 'offline', user_ids: offline });
    if (events.length > 0) socket.connection.send(watchlistFrame(events));
  }

  /**
   * A connection closed: forget its sign-in and watchlist; announce the user offline if that was its
   * last connection anywhere. In a handover the shared record stays for the other nodes to settle.
   */
  async closed(socket: PusherSocket, app: App, handover: boolean): Promise<void> {
    clearTimeout(socket.signinTimer);
    socket.signinTimer = undefined;
    const state = this.#ctx.state(app);
    state.users.unwatch(socket, socket.watchlist);
    if (!socket.user) return;
    state.users.remove(socket.user.id, socket);
    if (!app.watchlistEvents || handover) return;
    if (await this.#presence.leave(state.namespace, SIGNED_IN, socket.id, socket.user.id)) {
      await this.announce(app, socket.user.id, 'offline');
    }
  }

  /** Another node's (or this node's) announcement: tell this node's watchers of `userId`. */
  tellWatchers(app: App, userId: string, name: 'online' | 'offline'): void {
    const watchers = this.#ctx.state(app).users.watchers(userId);
    if (watchers.size === 0) return;
    const frame = watchlistFrame([{ name, user_ids: [userId] }]);
    for (const watcher of watchers) watcher.connection.send(frame);
  }

  /**
   * Closes every connection signed in as `userId` (Pusher docs, Terminating user connections); returns
   * how many.
   */
  terminate(app: App, userId: string): number {
    const sockets = this.#ctx.state(app).users.connections(userId);
    const terminated = pusherError('USER_TERMINATED');
    for (const socket of sockets) this.#ctx.answer(socket, terminated);
    return sockets.length;
  }

  /** To the user's watchers on every node. */
  announce(app: App, userId: string, name: 'online' | 'offline'): Promise<void> {
    return this.#adapter.broadcast(WATCHLIST_OP, { appId: app.id, userId, name });
  }
}

function watchlistFrame(events: WatchlistEvent[]): Frame {
  return new Frame(encodeObjectEvent('pusher_internal:watchlist_events', { events }));
}
