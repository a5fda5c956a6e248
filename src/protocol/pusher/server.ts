import type { ChannelMessage } from '../../adapters/adapter.js';
import type { App } from '../../core/apps/app.js';
import type { Connection, UpgradeRequest } from '../../core/connection.js';
import { DebugFeed } from '../../core/debug-feed.js';
import { Frame } from '../../core/frame.js';
import { AppTraffic } from '../../core/traffic.js';
import { AppStates, namespaceOf } from './app-states.js';
import { checkBusFrame } from './bus-frame.js';
import { ClientEvents } from './client-events.js';
import { decodeClientMessage } from './codec.js';
import type { PusherServerOptions } from './context.js';
import { withDebugFeed } from './debug-events.js';
import { PusherError, pusherError } from './errors.js';
import { NO_CHANNEL_EVENTS } from './events.js';
import { Handshake, randomSocketId } from './handshake.js';
import { Liveness, PONG } from './liveness.js';
import { cleanUpAfterNode } from './node-down.js';
import { answerPeers, ClusterQueries, type PusherQueries } from './queries.js';
import { Recovery } from './recovery.js';
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
export class PusherServer implements SocketOwner {
  readonly now: () => number;
  readonly queries: PusherQueries;
  readonly #options: PusherServerOptions;
  readonly #apps = new AppStates();
  readonly #handshake: Handshake;
  readonly #liveness: Liveness;
  readonly #subscriptions: Subscriptions;
  readonly #users: Users;
  readonly #clientEvents: ClientEvents;
  readonly #work: SocketWork;
  readonly #feed: DebugFeed;
  readonly #recovery: Recovery | undefined;
  /** Stopping with a handover: closed connections leave the shared store as it is. */
  #handover = false;

  constructor(options: PusherServerOptions) {
    const { apps, adapter, presence, cache, occupancy, memory, logger } = options;
    const { activityTimeoutSeconds, pongTimeoutSeconds } = options;
    const socketIds = options.socketIds ?? randomSocketId;
    const feed = options.debugFeed ?? new DebugFeed({ node: adapter.nodeId });
    const events = withDebugFeed(options.events ?? NO_CHANNEL_EVENTS, feed);
    const now = options.now ?? Date.now;
    const traffic = options.traffic ?? new AppTraffic();
    const states = this.#apps;
    const history = options.channelHistory;
    const queries = new ClusterQueries({ adapter, presence, cache, feed, history, logger });
    const state = (app: App) => states.of(app);
    const answer = (socket: PusherSocket, err: PusherError) => this.#answer(socket, err);
    const work = new SocketWork(answer, logger);
    const track = (w: Promise<void>) => work.track(w);
    const subscribing = { adapter, presence, cache, occupancy, memory, logger };
    const users = new Users({ options: { adapter, presence, logger, now }, state, answer });
    this.#options = options;
    this.#feed = feed;
    this.now = now;
    this.queries = queries;
    this.#work = work;
    this.#users = users;
    const recovery = history ? new Recovery({ history, adapter, states, logger, answer }) : undefined;
    this.#recovery = recovery;
    this.#subscriptions = new Subscriptions({
      options: subscribing,
      events,
      feed,
      now,
      queries,
      state,
      recovery,
      track,
      answer,
    });
    this.#handshake = new Handshake({
      apps,
      logger,
      activityTimeoutSeconds,
      socketIds,
      queries,
      states,
      users,
      traffic,
      feed,
      recovery,
      answer,
    });
    this.#liveness = new Liveness({ activityTimeoutSeconds, pongTimeoutSeconds, now, states, answer });
    this.#clientEvents = new ClientEvents({ adapter, history, events, logger, now, traffic });
    adapter.onMessage((message) => this.#deliver(message));
    answerPeers(adapter, states, users);
    const nodeDown = { apps, adapter, presence, occupancy, events, users };
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
    for (const socket of this.#apps.sockets()) this.#answer(socket, shuttingDown);
  }

  /** Accepts a WebSocket at `/app/{key}`; the handshake finishes once the app is looked up. */
  open(connection: Connection, request: UpgradeRequest): PusherSocket {
    const socket = new PusherSocket(this, connection);
    this.#work.chainOn(socket, this.#handshake.establish(socket, request));
    return socket;
  }

  message(socket: PusherSocket, text: string, bytes: number): void {
    if (socket.state !== 'open') return; // nothing is accepted before connection_established
    try {
      this.#dispatch(socket, text, bytes);
    } catch (err) {
      if (!(err instanceof PusherError)) throw err;
      this.#answer(socket, err);
    }
  }

  /** Throws the `PusherError` that refuses the message; queued work answers its own. */
  #dispatch(socket: PusherSocket, text: string, bytes: number): void {
    const limit = this.#options.maxMessageBytes;
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
      case 'herald:resume': {
        // Queued like a subscribe: the subscriptions the client sends after it wait for its answer.
        const recovery = this.#recovery;
        if (!recovery) throw pusherError('RESUME_UNAVAILABLE');
        return this.#work.enqueue(socket, () => recovery.resume(socket, message.data));
      }
      default:
        // Queued behind earlier subscribes and unsubscribes, so a client event is judged by the
        // subscriptions the client had when it sent it (only subscribers may send one).
        if (message.event.startsWith('client-'))
          return this.#work.enqueue(socket, async () => this.#clientEvents.relay(socket, message));
        throw pusherError('UNSUPPORTED_EVENT', message.event);
    }
  }

  binary(socket: PusherSocket, bytes: number): void {
    if (socket.state === 'open') this.#answer(socket, pusherError('BINARY_MESSAGE', bytes));
  }

  /** A client that stops reading is told to back off and reconnect (4100) rather than grow our memory. */
  overflowed(socket: PusherSocket): void {
    this.#answer(socket, pusherError('CLIENT_TOO_SLOW'));
  }

  closed(socket: PusherSocket, code?: number): void {
    socket.state = 'closed';
    const app = socket.app;
    if (!app) return;
    const ns = namespaceOf(app.id);
    if (this.#feed.watched(ns))
      this.#feed.report(ns, { type: 'connection_closed', socketId: socket.id, code });
    const state = this.#apps.get(app.id);
    state?.sockets.delete(socket.id);
    if (state) this.#recovery?.closed(socket, state);
    const handover = this.#handover;
    if (handover) this.#subscriptions.release(socket, app);
    this.#work.enqueue(socket, async () => {
      await this.#users.closed(socket, app, handover);
      if (handover) return;
      for (const channel of [...socket.channels.keys()])
        await this.#subscriptions.unsubscribe(socket, app, channel);
    });
  }

  /**
   * The app changed in its store (undefined: deleted). The connections of an app disabled or deleted
   * are closed with 4003; the others go on under the app as it is now (its limits and switches), and
   * a lowered `maxConnections` holds from the next connection on.
   */
  appChanged(id: string, app: App | undefined): void {
    const state = this.#apps.get(id);
    if (!state) return;
    if (!app?.enabled) {
      const refusal = pusherError(app ? 'APP_DISABLED' : 'APP_DELETED');
      for (const socket of [...state.sockets.values()]) this.#answer(socket, refusal);
      return;
    }
    state.app = app;
    for (const socket of state.sockets.values()) socket.app = app;
  }

  /** Ids of the apps with connections on this node. */
  *appsInUse(): IterableIterator<string> {
    for (const state of this.#apps.states()) if (state.sockets.size > 0) yield state.app.id;
  }

  /** Connections subscribed to `channel` on this node. */
  subscriptionCount(app: App, channel: string): number {
    return this.#apps.get(app.id)?.registry.count(channel) ?? 0;
  }

  /** Open connections of the app on this node. */
  connectionCount(app: App): number {
    return this.#apps.get(app.id)?.sockets.size ?? 0;
  }

  /**
   * Sends a refusal: its `pusher:subscription_error` when it has one, its `pusher:error`, and the close
   * when its code is in a closing band (see `answer` in refusal.ts).
   */
  #answer(socket: PusherSocket, err: PusherError): void {
    answer(socket, err, this.#options.limitRefusals);
  }

  #deliver(message: ChannelMessage): void {
    const state = this.#apps.byNamespace(message.namespace);
    if (!state) return;
    if (message.remote) checkBusFrame(message.text, message.channel);
    // Events of channels that keep a stream are counted per subscriber (docs/recovery.md).
    if (message.stream !== undefined && this.#recovery) this.#recovery.deliver(state, message);
    else state.registry.deliver(message.channel, new Frame(message.text), message.except);
  }

  /** Resolves once every queued subscribe, unsubscribe and close has finished (used at shutdown). */
  settled(): Promise<void> {
    return this.#work.settled();
  }
}
