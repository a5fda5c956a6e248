import type { ChannelMessage } from '../../adapters/adapter.js';
import type { App } from '../../core/apps/app.js';
import type { Connection, UpgradeRequest } from '../../core/connection.js';
import { Frame } from '../../core/frame.js';
import { AppStates } from './app-states.js';
import { checkBusFrame } from './bus-frame.js';
import { ClientEvents } from './client-events.js';
import { decodeClientMessage } from './codec.js';
import type { AppState, PusherContext, PusherServerOptions } from './context.js';
import { PusherError, pusherError } from './errors.js';
import { type ChannelEvents, NO_CHANNEL_EVENTS } from './events.js';
import { Handshake, randomSocketId } from './handshake.js';
import { Liveness, PONG } from './liveness.js';
import { cleanUpAfterNode } from './node-down.js';
import { answerPeers, ClusterQueries, type PusherQueries } from './queries.js';
import { answer } from './refusal.js';
import { PusherSocket, type SocketOwner } from './socket.js';
import { SocketWork } from './socket-work.js';
import { Subscriptions } from './subscriptions.js';
import { Users } from './users.js';

export type { PusherServerOptions } from './context.js';

/**
 * The Pusher Channels protocol on top of `Connection`s (Pusher docs, Channels protocol): it reacts to
 * a connection's open, messages and close, and hands each part its work: the handshake, liveness,
 * subscriptions, users, client events. It never sees a socket, only the core interfaces. What the HTTP
 * API asks of the cluster is `queries`.
 */
export class PusherServer implements SocketOwner, PusherContext {
  readonly now: () => number;
  readonly options: PusherServerOptions;
  readonly events: ChannelEvents;
  readonly queries: PusherQueries;
  readonly #apps = new AppStates();
  readonly #handshake: Handshake;
  readonly #liveness: Liveness;
  readonly #subscriptions: Subscriptions;
  readonly #users: Users;
  readonly #clientEvents: ClientEvents;
  readonly #work: SocketWork;
  /** Stopping with a handover: closed connections leave the shared store as it is. */
  #handover = false;

  constructor(options: PusherServerOptions) {
    const { adapter, logger } = options;
    this.options = options;
    this.events = options.events ?? NO_CHANNEL_EVENTS;
    this.now = options.now ?? Date.now;
    this.queries = new ClusterQueries(options);
    this.#work = new SocketWork((socket, err) => this.answer(socket, err), logger);
    this.#subscriptions = new Subscriptions(this);
    const users = new Users(this);
    this.#users = users;
    this.#handshake = new Handshake({
      apps: options.apps,
      logger,
      activityTimeoutSeconds: options.activityTimeoutSeconds,
      socketIds: options.socketIds ?? randomSocketId,
      connections: (app) => this.queries.connections(app),
      state: (app) => this.state(app),
      opened: (socket, app) => users.opened(socket, app),
    });
    this.#liveness = new Liveness({
      activityTimeoutSeconds: options.activityTimeoutSeconds,
      pongTimeoutSeconds: options.pongTimeoutSeconds,
      now: this.now,
      sockets: () => this.#apps.sockets(),
      answer: (socket, err) => this.answer(socket, err),
    });
    this.#clientEvents = new ClientEvents({ adapter, events: this.events, logger, now: this.now });
    adapter.onMessage((message) => this.#deliver(message));
    answerPeers(adapter, this.#apps, users);
    const { apps, presence, occupancy } = options;
    const announce = users.announce.bind(users);
    const nodeDown = { apps, adapter, presence, occupancy, events: this.events, announce };
    adapter.onNodeDown((nodeId) => {
      cleanUpAfterNode(nodeId, nodeDown).catch((err) => logger.error({ err, nodeId }, 'node cleanup failed'));
    });
  }

  start(): void {
    this.#liveness.start();
  }

  /**
   * Sends every client 4200 (reconnect now) and stops the timers. With `handover`, the connections'
   * presence and occupancy entries stay in the shared store for the other nodes to clean up after the
   * handover (see `Adapter.close`): clients that reconnect to them meanwhile never left.
   */
  stop(options: { handover?: boolean } = {}): void {
    this.#handover = options.handover === true;
    this.#liveness.stop();
    this.#subscriptions.close();
    const shuttingDown = pusherError('SHUTTING_DOWN');
    for (const socket of this.#apps.sockets()) this.answer(socket, shuttingDown);
  }

  /** Accepts a WebSocket at `/app/{key}`; the handshake finishes once the app is looked up. */
  open(connection: Connection, request: UpgradeRequest): PusherSocket {
    const socket = new PusherSocket(this, connection);
    const key = request.params[0] ?? '';
    const { origin } = request.headers;
    const established = this.#handshake.establish(socket, key, request.query.get('protocol'), origin);
    this.#work.chainOn(
      socket,
      established.catch((err) => {
        if (err instanceof PusherError) return this.answer(socket, err);
        this.options.logger.error({ err }, 'pusher handshake failed');
        this.answer(socket, pusherError('HANDSHAKE_FAILED'));
      }),
    );
    return socket;
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
        return this.#work.enqueue(socket, () => this.#subscriptions.subscribe(socket, message.data));
      case 'pusher:unsubscribe':
        return this.#work.enqueue(socket, () => this.#subscriptions.unsubscribeRequest(socket, message.data));
      case 'pusher:signin':
        return this.#work.enqueue(socket, async () => this.#users.signin(socket, message.data));
      default:
        // Queued behind earlier subscribes and unsubscribes, so a client event is judged by the
        // subscriptions the client had when it sent it (only subscribers may send one).
        if (message.event.startsWith('client-'))
          return this.#work.enqueue(socket, async () => this.#clientEvents.relay(socket, message));
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
    this.#work.enqueue(socket, async () => {
      await this.#users.closed(socket, app, handover);
      if (handover) return;
      for (const channel of [...socket.channels.keys()])
        await this.#subscriptions.unsubscribe(socket, app, channel);
    });
  }

  /** Connections subscribed to `channel` on this node. */
  subscriptionCount(app: App, channel: string): number {
    return this.#apps.get(app.id)?.registry.count(channel) ?? 0;
  }

  /** Open connections of the app on this node. */
  connectionCount(app: App): number {
    return this.#apps.get(app.id)?.sockets.size ?? 0;
  }

  /** Connections subscribed to `channel` on every node. */
  subscriptions(app: App, channel: string): Promise<number> {
    return this.queries.subscriptions(app, channel);
  }

  state(app: App): AppState {
    return this.#apps.of(app);
  }

  /**
   * Sends a refusal: its `pusher:subscription_error` when it has one, its `pusher:error`, and the close
   * when its code is in a closing band (see `answer` in refusal.ts).
   */
  answer(socket: PusherSocket, err: PusherError): void {
    answer(socket, err, this.options.limitRefusals);
  }

  #deliver(message: ChannelMessage): void {
    const state = this.#apps.byNamespace(message.namespace);
    if (state && message.remote) checkBusFrame(message.text, message.channel);
    state?.registry.deliver(message.channel, new Frame(message.text), message.except);
  }

  /** Counts `work` as in flight until it settles, so shutdown waits for it; it must not reject. */
  track(work: Promise<void>): void {
    this.#work.track(work);
  }

  /** Resolves once every queued subscribe, unsubscribe and close has finished (used at shutdown). */
  settled(): Promise<void> {
    return this.#work.settled();
  }
}
