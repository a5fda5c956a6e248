import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Adapter, ChannelMessage } from '../../adapters/adapter.js';
import type { App, AppStore } from '../../core/apps/app.js';
import { ChannelRegistry } from '../../core/channels/registry.js';
import type { Connection, UpgradeRequest } from '../../core/connection.js';
import { Frame } from '../../core/frame.js';
import type { PresenceMember, PresenceStore } from '../../core/presence/store.js';
import { CloseCode } from './close-codes.js';
import {
  type ClientMessage,
  decodeClientMessage,
  encodeChannelEvent,
  encodeError,
  encodeInternal,
  encodeObjectEvent,
  objectData,
} from './codec.js';
import { PusherSocket, type SocketOwner } from './socket.js';
import { type AcceptedSubscription, checkSubscription, type RefusedSubscription } from './subscription.js';

export interface PusherServerOptions {
  apps: AppStore;
  adapter: Adapter;
  presence: PresenceStore;
  logger: Logger;
  activityTimeoutSeconds: number;
  pongTimeoutSeconds: number;
  maxMessageBytes: number;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** Makes socket ids; tests pin it to reproduce the spec's signature vectors. */
  socketIds?: () => string;
}

/** Per-app state on this node. */
interface AppState {
  readonly namespace: string;
  readonly sockets: Map<string, PusherSocket>;
  readonly registry: ChannelRegistry<PusherSocket>;
}

const PONG = new Frame(encodeInternal('pusher:pong', {}));
const PING = new Frame(encodeInternal('pusher:ping', {}));

/** `<uint32>.<uint32>` from a CSPRNG (spec §1.3). */
export function randomSocketId(): string {
  const b = randomBytes(8);
  return `${b.readUInt32BE(0)}.${b.readUInt32BE(4)}`;
}

export const namespaceOf = (appId: string) => `pusher:${appId}`;

/**
 * The Pusher Channels protocol on top of `Connection`s: handshake, liveness, subscriptions, presence
 * and fan-out of published events (spec §1–§3). It never sees a socket, only the core interfaces.
 */
export class PusherServer implements SocketOwner {
  readonly now: () => number;
  readonly #o: PusherServerOptions;
  readonly #apps = new Map<string, AppState>();
  readonly #socketIds: () => string;
  #sweep: NodeJS.Timeout | undefined;

  constructor(options: PusherServerOptions) {
    this.#o = options;
    this.now = options.now ?? Date.now;
    this.#socketIds = options.socketIds ?? randomSocketId;
    options.adapter.onMessage((message) => this.#deliver(message));
  }

  start(): void {
    if (this.#sweep) return;
    const shortest = Math.min(this.#o.activityTimeoutSeconds, this.#o.pongTimeoutSeconds) * 1000;
    const every = Math.max(50, Math.min(5000, Math.floor(shortest / 4)));
    this.#sweep = setInterval(() => this.#checkLiveness(), every);
  }

  /** Sends every client 4200 (reconnect now) and stops the liveness timer. */
  stop(): void {
    clearInterval(this.#sweep);
    this.#sweep = undefined;
    for (const state of this.#apps.values()) {
      for (const socket of state.sockets.values()) {
        this.#fail(socket, CloseCode.RECONNECT, 'Server is shutting down, reconnect');
      }
    }
  }

  /** Accepts a WebSocket at `/app/{key}`; the handshake finishes once the app is looked up. */
  open(connection: Connection, request: UpgradeRequest): PusherSocket {
    const socket = new PusherSocket(this, connection);
    socket.chain = this.#establish(socket, request.params[0] ?? '', request.query.get('protocol')).catch(
      (err) => {
        this.#o.logger.error({ err }, 'pusher handshake failed');
        this.#fail(socket, CloseCode.OVER_CAPACITY, 'Internal error, try again');
      },
    );
    return socket;
  }

  async #establish(socket: PusherSocket, key: string, protocol: string | null): Promise<void> {
    const version = protocol === null ? 7 : /^\d+$/.test(protocol) ? Number(protocol) : Number.NaN;
    if (Number.isNaN(version))
      return this.#fail(socket, CloseCode.INVALID_VERSION_FORMAT, 'Invalid version string format');
    if (version < 4) {
      return this.#fail(
        socket,
        CloseCode.UNSUPPORTED_PROTOCOL,
        'Protocols 1, 2 and 3 are no longer supported',
      );
    }
    if (version > 7)
      return this.#fail(socket, CloseCode.UNSUPPORTED_PROTOCOL, 'Unsupported protocol version');

    const app = await this.#o.apps.findByKey(key);
    if (socket.state !== 'pending') return;
    if (!app) {
      return this.#fail(
        socket,
        CloseCode.APP_NOT_FOUND,
        `App key ${key} not in this cluster. Did you forget to specify the cluster?`,
      );
    }
    if (!app.enabled) return this.#fail(socket, CloseCode.APP_DISABLED, 'Application disabled');
    const state = this.#state(app.id);
    if (app.maxConnections !== null && state.sockets.size >= app.maxConnections) {
      return this.#fail(socket, CloseCode.OVER_CONNECTION_QUOTA, 'Application is over connection quota');
    }
    let id = this.#socketIds();
    while (state.sockets.has(id)) id = this.#socketIds();
    socket.id = id;
    socket.app = app;
    socket.state = 'open';
    state.sockets.set(id, socket);
    socket.connection.send(
      new Frame(
        encodeInternal('pusher:connection_established', {
          socket_id: id,
          activity_timeout: this.#o.activityTimeoutSeconds,
        }),
      ),
    );
  }

  message(socket: PusherSocket, text: string, bytes: number): void {
    if (socket.state !== 'open') return; // nothing is accepted before connection_established
    if (bytes > this.#o.maxMessageBytes) {
      return this.#error(socket, null, `Message too large: ${bytes} bytes, limit ${this.#o.maxMessageBytes}`);
    }
    const decoded = decodeClientMessage(text);
    if (!decoded.ok) return this.#error(socket, null, decoded.error);
    const message = decoded.message;
    switch (message.event) {
      case 'pusher:ping':
        return socket.connection.send(PONG);
      case 'pusher:pong':
        return;
      case 'pusher:subscribe':
        return this.#enqueue(socket, () => this.#subscribe(socket, message.data));
      case 'pusher:unsubscribe':
        return this.#enqueue(socket, () => this.#unsubscribeRequest(socket, message.data));
      default:
        return this.#unknown(socket, message);
    }
  }

  binary(socket: PusherSocket, bytes: number): void {
    if (socket.state === 'open')
      this.#error(socket, null, `Binary messages are not supported (${bytes} bytes)`);
  }

  /** A client that stops reading is told to back off and reconnect (4100) rather than grow our memory. */
  overflowed(socket: PusherSocket): void {
    this.#fail(socket, CloseCode.OVER_CAPACITY, 'Client too slow: messages were not read in time');
  }

  closed(socket: PusherSocket): void {
    socket.state = 'closed';
    const app = socket.app;
    if (!app) return;
    this.#apps.get(app.id)?.sockets.delete(socket.id);
    this.#enqueue(socket, async () => {
      for (const channel of [...socket.channels.keys()]) await this.#unsubscribe(socket, app, channel);
    });
  }

  /** Publishes an event to a channel on every node; `except` is a socket_id that must not get it. */
  async publish(app: App, channel: string, event: string, data: string, except?: string): Promise<void> {
    await this.#o.adapter.publish({
      namespace: namespaceOf(app.id),
      channel,
      text: encodeChannelEvent(event, channel, data),
      except,
    });
  }

  /** Connections subscribed to `channel` on this node. */
  subscriptionCount(app: App, channel: string): number {
    return this.#apps.get(app.id)?.registry.count(channel) ?? 0;
  }

  /** Channels with at least one subscriber on this node. */
  occupiedChannels(app: App): string[] {
    const registry = this.#apps.get(app.id)?.registry;
    return registry ? [...registry.channels()] : [];
  }

  presenceMembers(app: App, channel: string): Promise<PresenceMember[]> {
    return this.#o.presence.members(namespaceOf(app.id), channel);
  }

  presenceCount(app: App, channel: string): Promise<number> {
    return this.#o.presence.count(namespaceOf(app.id), channel);
  }

  /** Open connections of the app on this node. */
  connectionCount(app: App): number {
    return this.#apps.get(app.id)?.sockets.size ?? 0;
  }

  #state(appId: string): AppState {
    let state = this.#apps.get(appId);
    if (!state) {
      state = { namespace: namespaceOf(appId), sockets: new Map(), registry: new ChannelRegistry() };
      this.#apps.set(appId, state);
      this.#byNamespace.set(state.namespace, state);
    }
    return state;
  }

  readonly #byNamespace = new Map<string, AppState>();

  #deliver(message: ChannelMessage): void {
    this.#byNamespace
      .get(message.namespace)
      ?.registry.deliver(message.channel, new Frame(message.text), message.except);
  }

  #enqueue(socket: PusherSocket, step: () => Promise<void>): void {
    socket.chain = socket.chain.then(step).catch((err) => {
      this.#o.logger.error({ err, socketId: socket.id }, 'pusher operation failed');
    });
  }

  async #subscribe(socket: PusherSocket, data: unknown): Promise<void> {
    const app = socket.app;
    if (socket.state !== 'open' || !app) return;
    const check = checkSubscription(app, socket.id, data, socket.user);
    if (!check.ok) return this.#refuse(socket, check);
    const { channel } = check;
    if (socket.channels.has(channel)) return this.#succeeded(socket, app, check); // idempotent re-subscribe

    const state = this.#state(app.id);
    if (check.member) {
      const joined = await this.#o.presence.join(
        state.namespace,
        channel,
        socket.id,
        check.member,
        app.maxPresenceMembers,
      );
      if (joined === 'full') {
        return this.#refuse(socket, {
          ok: false,
          channel,
          type: 'LimitReached',
          error: `Presence channel ${channel} is full (${app.maxPresenceMembers} members)`,
          status: 403,
        });
      }
      if (socket.state !== 'open') {
        await this.#o.presence.leave(state.namespace, channel, socket.id, check.member.userId);
        return;
      }
      socket.channels.set(channel, check.member.userId);
      this.#register(socket, state, channel);
      await this.#succeeded(socket, app, check);
      if (joined === 'added') {
        const frame = encodeInternal(
          'pusher_internal:member_added',
          { user_id: check.member.userId, user_info: check.member.info },
          channel,
        );
        await this.#o.adapter.publish({
          namespace: state.namespace,
          channel,
          text: frame,
          except: socket.id,
        });
      }
      return;
    }
    socket.channels.set(channel, null);
    this.#register(socket, state, channel);
    await this.#succeeded(socket, app, check);
  }

  #register(socket: PusherSocket, state: AppState, channel: string): void {
    if (state.registry.add(channel, socket)) {
      this.#o.adapter.addInterest(state.namespace, channel).catch((err) => {
        this.#o.logger.error({ err, channel }, 'adapter could not add interest');
      });
    }
  }

  async #succeeded(socket: PusherSocket, app: App, check: AcceptedSubscription): Promise<void> {
    let data: unknown = {};
    if (check.member) {
      const members = await this.#o.presence.members(namespaceOf(app.id), check.channel);
      const hash: Record<string, unknown> = {};
      for (const m of members) hash[m.userId] = m.info;
      data = { presence: { ids: members.map((m) => m.userId), hash, count: members.length } };
    }
    socket.connection.send(
      new Frame(encodeInternal('pusher_internal:subscription_succeeded', data, check.channel)),
    );
  }

  #refuse(socket: PusherSocket, refusal: RefusedSubscription): void {
    const { channel, type, error, status } = refusal;
    if (channel !== undefined) {
      socket.connection.send(
        new Frame(encodeObjectEvent('pusher:subscription_error', { type, error, status }, channel)),
      );
    }
    this.#error(socket, null, error);
  }

  async #unsubscribeRequest(socket: PusherSocket, data: unknown): Promise<void> {
    const channel = objectData(data)?.channel;
    if (socket.state !== 'open' || !socket.app || typeof channel !== 'string') return;
    await this.#unsubscribe(socket, socket.app, channel);
  }

  async #unsubscribe(socket: PusherSocket, app: App, channel: string): Promise<void> {
    if (!socket.channels.has(channel)) return;
    const userId = socket.channels.get(channel);
    socket.channels.delete(channel);
    const state = this.#state(app.id);
    if (state.registry.remove(channel, socket)) {
      this.#o.adapter.removeInterest(state.namespace, channel).catch((err) => {
        this.#o.logger.error({ err, channel }, 'adapter could not remove interest');
      });
    }
    if (userId != null && (await this.#o.presence.leave(state.namespace, channel, socket.id, userId))) {
      const frame = encodeInternal('pusher_internal:member_removed', { user_id: userId }, channel);
      await this.#o.adapter.publish({ namespace: state.namespace, channel, text: frame, except: socket.id });
    }
  }

  #unknown(socket: PusherSocket, message: ClientMessage): void {
    this.#error(socket, null, `Unsupported event: ${message.event}`);
  }

  #checkLiveness(): void {
    const now = this.now();
    const activity = this.#o.activityTimeoutSeconds * 1000;
    const pong = this.#o.pongTimeoutSeconds * 1000;
    for (const state of this.#apps.values()) {
      for (const socket of state.sockets.values()) {
        if (socket.pingedAt !== 0) {
          if (now - socket.pingedAt >= pong)
            this.#fail(socket, CloseCode.PONG_NOT_RECEIVED, 'Pong reply not received');
        } else if (now - socket.lastSeen >= activity) {
          socket.pingedAt = now;
          socket.connection.send(PING);
        }
      }
    }
  }

  /** A `pusher:error` that leaves the connection open. */
  #error(socket: PusherSocket, code: number | null, message: string): void {
    socket.connection.send(new Frame(encodeError(code, message)));
  }

  /** `pusher:error` with `code`, then a close with the same code (spec §1.6, checklist 50). */
  #fail(socket: PusherSocket, code: number, message: string): void {
    if (socket.state === 'closed' || socket.state === 'closing') return;
    socket.state = 'closing';
    socket.connection.send(new Frame(encodeError(code, message)));
    socket.connection.close(code, message);
  }
}
