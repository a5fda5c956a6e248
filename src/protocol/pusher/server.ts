import { randomBytes } from 'node:crypto';
import type { ChannelMessage } from '../../adapters/adapter.js';
import { busFields, MalformedBusMessage } from '../../adapters/bus-payload.js';
import type { App } from '../../core/apps/app.js';
import { channelKind } from '../../core/channels/names.js';
import { ChannelRegistry } from '../../core/channels/registry.js';
import type { Connection, UpgradeRequest } from '../../core/connection.js';
import { Frame } from '../../core/frame.js';
import { checkOrigin } from '../../core/origin.js';
import type { PresenceMember } from '../../core/presence/store.js';
import { checkBusFrame } from './bus-frame.js';
import { checkClientEvent } from './client-events.js';
import {
  type ClientMessage,
  decodeClientMessage,
  encodeChannelEvent,
  encodeError,
  encodeInternal,
  encodeSubscriptionError,
} from './codec.js';
import type { AppState, PusherContext, PusherServerOptions } from './context.js';
import { PusherError, pusherError } from './errors.js';
import { type ChannelEvents, NO_CHANNEL_EVENTS } from './events.js';
import { PusherSocket, type SocketOwner } from './socket.js';
import { Subscriptions } from './subscriptions.js';
import { UserRegistry } from './user-registry.js';
import { SIGNED_IN, Users, WATCHLIST_OP } from './users.js';

export type { PusherServerOptions } from './context.js';

const PONG = new Frame(encodeInternal('pusher:pong', {}));
const PING = new Frame(encodeInternal('pusher:ping', {}));
/** One refusal for every client event over the rate: a flood of them costs no allocation each. */
const CLIENT_EVENT_RATE_LIMITED = pusherError('CLIENT_EVENT_RATE_LIMIT');
/** Attempts to find an unused socket id before giving up (only a pinned generator repeats itself). */
const SOCKET_ID_ATTEMPTS = 8;

/** CSPRNG bytes drawn in bulk: one `randomBytes` call per 512 socket ids instead of one per id. */
const ID_POOL_BYTES = 4096;
let idPool = Buffer.alloc(0);
let idOffset = 0;

/** `<uint32>.<uint32>` from a CSPRNG (spec §1.3). */
export function randomSocketId(): string {
  if (idOffset + 8 > idPool.length) {
    idPool = randomBytes(ID_POOL_BYTES);
    idOffset = 0;
  }
  const id = `${idPool.readUInt32BE(idOffset)}.${idPool.readUInt32BE(idOffset + 4)}`;
  idOffset += 8;
  return id;
}

export const namespaceOf = (appId: string) => `pusher:${appId}`;

/**
 * The Pusher Channels protocol on top of `Connection`s: handshake, liveness, message dispatch, client
 * events and publishing (spec §1, §4), with subscriptions and users delegated to their handlers. It
 * never sees a socket, only the core interfaces.
 */
export class PusherServer implements SocketOwner, PusherContext {
  readonly now: () => number;
  readonly options: PusherServerOptions;
  readonly events: ChannelEvents;
  readonly #apps = new Map<string, AppState>();
  readonly #byNamespace = new Map<string, AppState>();
  readonly #socketIds: () => string;
  readonly #subscriptions: Subscriptions;
  readonly #users: Users;
  readonly #inflight = new Set<Promise<void>>();
  #sweep: NodeJS.Timeout | undefined;
  /** Stopping with a handover: closed connections leave the shared store as it is. */
  #handover = false;

  constructor(options: PusherServerOptions) {
    this.options = options;
    this.events = options.events ?? NO_CHANNEL_EVENTS;
    this.now = options.now ?? Date.now;
    this.#socketIds = options.socketIds ?? randomSocketId;
    this.#subscriptions = new Subscriptions(this);
    this.#users = new Users(this);
    const { adapter } = options;
    adapter.onMessage((message) => this.#deliver(message));
    // What other nodes ask of this one (cluster-wide counts, lists and user termination).
    adapter.handle('pusher.subscriptions', (p) => {
      const { appId, channel } = busFields('pusher.subscriptions', p, { appId: 'string', channel: 'string' });
      return this.#apps.get(appId)?.registry.count(channel) ?? 0;
    });
    adapter.handle('pusher.channels', (p) => {
      const registry = this.#apps.get(busFields('pusher.channels', p, { appId: 'string' }).appId)?.registry;
      return registry ? [...registry.channels()] : [];
    });
    adapter.handle(
      'pusher.connections',
      (p) => this.#apps.get(busFields('pusher.connections', p, { appId: 'string' }).appId)?.sockets.size ?? 0,
    );
    adapter.handle('pusher.terminate', (p) => {
      const { appId, userId } = busFields('pusher.terminate', p, { appId: 'string', userId: 'string' });
      const state = this.#apps.get(appId);
      return state ? this.#users.terminate(state.app, userId) : 0;
    });
    adapter.handle(WATCHLIST_OP, (p) => {
      const { appId, userId, name } = busFields(WATCHLIST_OP, p, {
        appId: 'string',
        userId: 'string',
        name: 'string',
      });
      const state = this.#apps.get(appId);
      if (name !== 'online' && name !== 'offline')
        throw new MalformedBusMessage(`${WATCHLIST_OP}: no event "${name}"`);
      if (state) this.#users.tellWatchers(state.app, userId, name);
    });
    adapter.onNodeDown((nodeId) => {
      this.#nodeDown(nodeId).catch((err) =>
        this.options.logger.error({ err, nodeId }, 'node cleanup failed'),
      );
    });
  }

  start(): void {
    if (this.#sweep) return;
    const shortest = Math.min(this.options.activityTimeoutSeconds, this.options.pongTimeoutSeconds) * 1000;
    const every = Math.max(50, Math.min(5000, Math.floor(shortest / 4)));
    this.#sweep = setInterval(() => this.#checkLiveness(), every);
  }

  /**
   * Sends every client 4200 (reconnect now) and stops the timers. With `handover`, the connections'
   * presence and occupancy entries stay in the shared store for the other nodes to clean up after the
   * handover (see `Adapter.close`): clients that reconnect to them meanwhile never left.
   */
  stop(options: { handover?: boolean } = {}): void {
    this.#handover = options.handover === true;
    clearInterval(this.#sweep);
    this.#sweep = undefined;
    this.#subscriptions.close();
    const shuttingDown = pusherError('SHUTTING_DOWN');
    for (const state of this.#apps.values()) {
      for (const socket of state.sockets.values()) this.answer(socket, shuttingDown);
    }
  }

  /** Accepts a WebSocket at `/app/{key}`; the handshake finishes once the app is looked up. */
  open(connection: Connection, request: UpgradeRequest): PusherSocket {
    const socket = new PusherSocket(this, connection);
    const key = request.params[0] ?? '';
    this.#chainOn(
      socket,
      this.#establish(socket, key, request.query.get('protocol'), request.headers.origin).catch((err) => {
        if (err instanceof PusherError) return this.answer(socket, err);
        this.options.logger.error({ err }, 'pusher handshake failed');
        this.answer(socket, pusherError('HANDSHAKE_FAILED'));
      }),
    );
    return socket;
  }

  /** Throws the `PusherError` that refuses the handshake. */
  async #establish(
    socket: PusherSocket,
    key: string,
    protocol: string | null,
    origin: string | readonly string[] | undefined,
  ): Promise<void> {
    const version = protocol === null ? 7 : /^\d+$/.test(protocol) ? Number(protocol) : Number.NaN;
    if (Number.isNaN(version)) throw pusherError('INVALID_VERSION_FORMAT');
    if (version < 4) throw pusherError('PROTOCOL_TOO_OLD');
    if (version > 7) throw pusherError('PROTOCOL_UNSUPPORTED');

    const app = await this.options.apps.findByKey(key);
    if (socket.state !== 'pending') return;
    if (!app) throw pusherError('APP_NOT_FOUND', key);
    if (!app.enabled) throw pusherError('APP_DISABLED');
    // Refused before any work is done for the connection (README "App settings"): 4009 is the
    // Pusher docs' "Connection is unauthorized", and Laravel Reverb's code for a disallowed origin.
    const verdict = checkOrigin(app, origin);
    if (verdict !== 'allowed') {
      this.options.logger.debug(
        { appId: app.id, origin: String(origin).slice(0, 200), verdict },
        'origin refused',
      );
      throw pusherError(verdict === 'missing' ? 'ORIGIN_REQUIRED' : 'ORIGIN_NOT_ALLOWED');
    }
    const state = this.state(app);
    if (app.maxConnections !== null && (await this.connections(app)) >= app.maxConnections) {
      throw pusherError('OVER_CONNECTION_QUOTA');
    }
    if (socket.state !== 'pending') return;
    let id = this.#socketIds();
    for (let i = 1; state.sockets.has(id); i++) {
      if (i === SOCKET_ID_ATTEMPTS) throw pusherError('NO_SOCKET_ID');
      id = this.#socketIds();
    }
    socket.id = id;
    socket.app = app;
    socket.state = 'open';
    state.sockets.set(id, socket);
    const established = { socket_id: id, activity_timeout: this.options.activityTimeoutSeconds };
    socket.connection.send(new Frame(encodeInternal('pusher:connection_established', established)));
    this.#users.opened(socket, app);
  }

  message(socket: PusherSocket, text: string, bytes: number): void {
    if (socket.state !== 'open') return; // nothing is accepted before connection_established
    try {
      this.#dispatch(socket, text, bytes);
    } catch (err) {
      if (!(err instanceof PusherError)) throw err;
      this.answer(socket, err);
    }
  }

  /** Throws the `PusherError` that refuses the message; queued work answers its own. */
  #dispatch(socket: PusherSocket, text: string, bytes: number): void {
    const limit = this.options.maxMessageBytes;
    if (bytes > limit) throw pusherError('MESSAGE_TOO_LARGE', bytes, limit);
    const decoded = decodeClientMessage(text);
    if (!decoded.ok) throw decoded.refusal;
    const message = decoded.message;
    switch (message.event) {
      case 'pusher:ping':
        return socket.connection.send(PONG);
      case 'pusher:pong':
        return;
      case 'pusher:subscribe':
        return this.#enqueue(socket, () => this.#subscriptions.subscribe(socket, message.data));
      case 'pusher:unsubscribe':
        return this.#enqueue(socket, () => this.#subscriptions.unsubscribeRequest(socket, message.data));
      case 'pusher:signin':
        return this.#enqueue(socket, async () => this.#users.signin(socket, message.data));
      default:
        // Queued behind earlier subscribes and unsubscribes, so a client event is judged by the
        // subscriptions the client had when it sent it (spec §4: subscribers only).
        if (message.event.startsWith('client-'))
          return this.#enqueue(socket, async () => this.#clientEvent(socket, message));
        throw pusherError('UNSUPPORTED_EVENT', message.event);
    }
  }

  binary(socket: PusherSocket, bytes: number): void {
    if (socket.state === 'open') this.answer(socket, pusherError('BINARY_MESSAGE', bytes));
  }

  /** A client that stops reading is told to back off and reconnect (4100) rather than grow our memory. */
  overflowed(socket: PusherSocket): void {
    this.answer(socket, pusherError('CLIENT_TOO_SLOW'));
  }

  closed(socket: PusherSocket): void {
    socket.state = 'closed';
    const app = socket.app;
    if (!app) return;
    this.#apps.get(app.id)?.sockets.delete(socket.id);
    const handover = this.#handover;
    if (handover) this.#subscriptions.release(socket, app);
    this.#enqueue(socket, async () => {
      await this.#users.closed(socket, app, handover);
      if (handover) return;
      for (const channel of [...socket.channels.keys()])
        await this.#subscriptions.unsubscribe(socket, app, channel);
    });
  }

  /**
   * Publishes an event to a channel on every node; `except` is a socket_id that must not get it.
   * Events to cache channels are kept as the channel's last event.
   */
  async publish(app: App, channel: string, event: string, data: string, except?: string): Promise<void> {
    const namespace = namespaceOf(app.id);
    if (channelKind(channel).cache) {
      await this.options.cache.set(namespace, channel, { event, data }, app.cacheTtlSeconds * 1000);
    }
    await this.options.adapter.publish({
      namespace,
      channel,
      text: encodeChannelEvent(event, channel, data),
      except,
    });
  }

  /** Connections subscribed to `channel` on this node. */
  subscriptionCount(app: App, channel: string): number {
    return this.#apps.get(app.id)?.registry.count(channel) ?? 0;
  }

  /** Connections subscribed to `channel` on every node. */
  async subscriptions(app: App, channel: string): Promise<number> {
    const result = await this.options.adapter.request<number>('pusher.subscriptions', {
      appId: app.id,
      channel,
    });
    return result.answers.reduce((sum, n) => sum + n, 0);
  }

  /** Channels with at least one subscriber on any node. */
  async occupiedChannels(app: App): Promise<string[]> {
    const result = await this.options.adapter.request<string[]>('pusher.channels', { appId: app.id });
    return [...new Set(result.answers.flat())];
  }

  /** Open connections of the app on every node. */
  async connections(app: App): Promise<number> {
    const result = await this.options.adapter.request<number>('pusher.connections', { appId: app.id });
    return result.answers.reduce((sum, n) => sum + n, 0);
  }

  presenceMembers(app: App, channel: string): Promise<PresenceMember[]> {
    return this.options.presence.members(namespaceOf(app.id), channel);
  }

  presenceCount(app: App, channel: string): Promise<number> {
    return this.options.presence.count(namespaceOf(app.id), channel);
  }

  /** A cache channel's last event and its remaining time to live, for `info=cache`. */
  cached(app: App, channel: string) {
    return this.options.cache.get(namespaceOf(app.id), channel);
  }

  /** Open connections of the app on this node. */
  connectionCount(app: App): number {
    return this.#apps.get(app.id)?.sockets.size ?? 0;
  }

  /** Closes every connection signed in as `userId` (spec §5.5), on every node. */
  terminateUser(app: App, userId: string): Promise<void> {
    return this.options.adapter.broadcast('pusher.terminate', { appId: app.id, userId });
  }

  /**
   * A node died without saying goodbye: its presence entries are removed here, and each member that
   * left with it is announced to the channel (and to webhooks) exactly once across the survivors.
   */
  async #nodeDown(nodeId: string): Promise<void> {
    const appOf = (namespace: string) => this.options.apps.findById(namespace.slice(namespaceOf('').length));
    const left = await this.options.presence.removeNode(nodeId);
    for (const { namespace, channel, userId } of left) {
      if (channel === SIGNED_IN) {
        const app = await appOf(namespace);
        if (app) await this.#users.announce(app, userId, 'offline');
        continue;
      }
      const text = encodeInternal('pusher_internal:member_removed', { user_id: userId }, channel);
      await this.options.adapter.publish({ namespace, channel, text });
      const app = await appOf(namespace);
      if (app) this.events.memberRemoved(app, channel, userId);
    }
    for (const { namespace, channel } of (await this.options.occupancy?.removeNode(nodeId)) ?? []) {
      const app = await appOf(namespace);
      if (app) this.events.channelVacated(app, channel);
    }
  }

  state(app: App): AppState {
    let state = this.#apps.get(app.id);
    if (state) {
      state.app = app;
    } else {
      state = {
        app,
        namespace: namespaceOf(app.id),
        sockets: new Map(),
        registry: new ChannelRegistry(),
        users: new UserRegistry(),
      };
      this.#apps.set(app.id, state);
      this.#byNamespace.set(state.namespace, state);
    }
    return state;
  }

  /**
   * The one place a refusal goes on the wire. A subscription refusal that names a channel sends its
   * `pusher:subscription_error` first; then the `pusher:error`; a refusal in the closing bands then
   * closes with the same code (Pusher Protocol docs, "Error Codes"), once. A refusal by a limit is
   * counted on `/metrics`.
   */
  answer(socket: PusherSocket, err: PusherError): void {
    const { entry, message } = err;
    if (entry.closes && entry.code !== null) {
      if (socket.state === 'closed' || socket.state === 'closing') return;
      socket.state = 'closing';
      socket.connection.send(new Frame(encodeError(entry.code, message)));
      socket.connection.close(entry.code, message);
      return;
    }
    if (entry.limit) this.options.limitRefusals?.count(entry.limit);
    if (entry.subscription && err.channel !== undefined) {
      const { type, status } = entry.subscription;
      socket.connection.send(new Frame(encodeSubscriptionError(err.channel, type, message, status)));
    }
    socket.connection.send(new Frame(encodeError(entry.code, message)));
  }

  #deliver(message: ChannelMessage): void {
    const state = this.#byNamespace.get(message.namespace);
    if (state && message.remote) checkBusFrame(message.text, message.channel);
    state?.registry.deliver(message.channel, new Frame(message.text), message.except);
  }

  #enqueue(socket: PusherSocket, step: () => Promise<void>): void {
    const work = (socket.chain ?? Promise.resolve()).then(step).catch((err) => {
      if (err instanceof PusherError) return this.answer(socket, err);
      this.options.logger.error({ err, socketId: socket.id }, 'pusher operation failed');
    });
    this.track(this.#chainOn(socket, work));
  }

  /** Makes `work` (which must not reject) the socket's chain until it has run. */
  #chainOn(socket: PusherSocket, work: Promise<void>): Promise<void> {
    const chain: Promise<void> = work.then(() => {
      if (socket.chain === chain) socket.chain = undefined;
    });
    socket.chain = chain;
    return chain;
  }

  /** Counts `work` as in flight until it settles, so shutdown waits for it; it must not reject. */
  track(work: Promise<void>): void {
    this.#inflight.add(work);
    work.finally(() => this.#inflight.delete(work));
  }

  /** Resolves once every queued subscribe, unsubscribe and close has finished (used at shutdown). */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all(this.#inflight);
  }

  /** Client events (spec §4): rate-limited per connection first, then checked and relayed to the others. */
  #clientEvent(socket: PusherSocket, message: ClientMessage): void {
    const app = socket.app!;
    const now = this.now();
    if (now - socket.clientEventWindow >= 1000) {
      socket.clientEventWindow = now;
      socket.clientEventCount = 0;
    }
    if (++socket.clientEventCount > app.maxClientEventsPerSecond) throw CLIENT_EVENT_RATE_LIMITED;
    const check = checkClientEvent(app, message, socket.channels);
    if (!check.ok) throw check;
    const userId = socket.channels.get(check.channel);
    this.events.clientEvent(app, {
      channel: check.channel,
      event: message.event,
      data: typeof message.data === 'string' ? message.data : JSON.stringify(message.data ?? null),
      socketId: socket.id,
      ...(userId != null ? { userId } : {}),
    });
    this.options.adapter
      .publish({
        namespace: namespaceOf(app.id),
        channel: check.channel,
        text: check.text,
        except: socket.id,
      })
      .catch((err) =>
        this.options.logger.error({ err, channel: check.channel }, 'client event not published'),
      );
  }

  #checkLiveness(): void {
    const now = this.now();
    const activity = this.options.activityTimeoutSeconds * 1000;
    const pong = this.options.pongTimeoutSeconds * 1000;
    for (const state of this.#apps.values()) {
      for (const socket of state.sockets.values()) {
        if (socket.pingedAt !== 0) {
          if (now - socket.pingedAt >= pong) this.answer(socket, pusherError('PONG_NOT_RECEIVED'));
        } else if (now - socket.lastSeen >= activity) {
          socket.pingedAt = now;
          socket.connection.send(PING);
        }
      }
    }
  }
}
