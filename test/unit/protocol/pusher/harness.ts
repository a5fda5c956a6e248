import { pino } from 'pino';
import PusherSdk from 'pusher';
import { MemoryAdapter } from '../../../../src/adapters/memory.js';
import { type AppConfig, appSchema } from '../../../../src/config/schema.js';
import type { App } from '../../../../src/core/apps/app.js';
import { StaticAppStore } from '../../../../src/core/apps/static-store.js';
import { MemoryLastEventStore } from '../../../../src/core/cache/memory.js';
import type { Connection, Session } from '../../../../src/core/connection.js';
import type { Frame } from '../../../../src/core/frame.js';
import { MemoryPresenceStore } from '../../../../src/core/presence/memory.js';
import type { ChannelEvents, ClientEventRecord } from '../../../../src/protocol/pusher/events.js';
import { PusherServer, type PusherServerOptions } from '../../../../src/protocol/pusher/server.js';
import { PusherSocket, type SocketOwner } from '../../../../src/protocol/pusher/socket.js';

/**
 * The Pusher core without sockets: a fake `Connection` that records the frames sent and the close,
 * and the server on the memory adapter and stores.
 */

export const silent = pino({ level: 'silent' });

/** A frame as a client sees it, `data` parsed back when the server sent it as a JSON string. */
export interface WireFrame {
  event: string;
  channel?: string;
  data?: unknown;
  user_id?: string;
}

function parsed(text: string): WireFrame {
  const frame = JSON.parse(text) as WireFrame;
  if (typeof frame.data === 'string') {
    try {
      frame.data = JSON.parse(frame.data);
    } catch {
      // a published data string that is not JSON stays as it is
    }
  }
  return frame;
}

type Match = (f: WireFrame) => boolean;

/** Records what the protocol sends; `close` ends the session on the next turn, as a socket would. */
export class FakeConnection implements Connection {
  readonly remoteAddress = '127.0.0.1';
  /** Frames not taken by `next` yet. */
  readonly frames: WireFrame[] = [];
  /** Every frame sent, in order. */
  readonly sent: WireFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  session: Session | undefined;
  readonly #waiters: { match: Match; resolve: (f: WireFrame) => void }[] = [];

  send(frame: Frame): void {
    if (this.closed) return;
    const f = parsed(String(frame.text));
    this.sent.push(f);
    const i = this.#waiters.findIndex((w) => w.match(f));
    if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(f);
    else this.frames.push(f);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = { code, reason };
    setImmediate(() => this.session?.onClose(code));
  }

  /** The next frame named `event` (any frame without one; on `channel` when given), waiting for it if needed. */
  next(event?: string, channel?: string): Promise<WireFrame> {
    return this.nextWhere(
      (f) => (event === undefined || f.event === event) && (channel === undefined || f.channel === channel),
    );
  }

  /** The next frame that matches, waiting for it if needed. */
  nextWhere(match: Match): Promise<WireFrame> {
    const i = this.frames.findIndex(match);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Names of the frames not taken yet (what a client received and nobody looked at). */
  pending(): string[] {
    return this.frames.map((f) => f.event);
  }
}

/** Every channel event reported, as `[name, channel, detail?]`. */
export class RecordedEvents implements ChannelEvents {
  readonly calls: unknown[][] = [];
  channelOccupied(_app: App, channel: string) {
    this.calls.push(['occupied', channel]);
  }
  channelVacated(_app: App, channel: string) {
    this.calls.push(['vacated', channel]);
  }
  memberAdded(_app: App, channel: string, userId: string) {
    this.calls.push(['member_added', channel, userId]);
  }
  memberRemoved(_app: App, channel: string, userId: string) {
    this.calls.push(['member_removed', channel, userId]);
  }
  clientEvent(_app: App, event: ClientEventRecord) {
    this.calls.push(['client_event', event.channel, event]);
  }
  cacheMiss(_app: App, channel: string) {
    this.calls.push(['cache_miss', channel]);
  }
  subscriptionCount(_app: App, channel: string, count: number) {
    this.calls.push(['subscription_count', channel, count]);
  }
}

export function testApp(config: Partial<AppConfig> = {}): App {
  return appSchema.parse({ id: 'app-id', key: 'app-key', secret: 'app-secret', ...config });
}

/** The official server SDK's signatures for `app`, as an app's auth endpoint makes them. */
export function sdkFor(app: App): PusherSdk {
  return new PusherSdk({ appId: app.id, key: app.key, secret: app.secret, cluster: 'mt1' });
}

/** One client of the server: its fake connection and socket. */
export interface Client {
  connection: FakeConnection;
  socket: PusherSocket;
  socketId: string;
  send(event: string, data?: unknown, channel?: string): void;
  /** Subscribes and resolves with the answer (`subscription_succeeded` or `subscription_error`). */
  subscribe(channel: string, auth?: object): Promise<WireFrame>;
}

export interface Harness {
  server: PusherServer;
  app: App;
  events: RecordedEvents;
  presence: MemoryPresenceStore;
  sdk: PusherSdk;
  /** Opens a connection with `query` and waits for its first frame. */
  open(query?: string, key?: string): Promise<{ connection: FakeConnection; first: WireFrame }>;
  /** Opens a connection and waits for `pusher:connection_established`. */
  connect(): Promise<Client>;
  /** Connects and subscribes to `channel` (presence channels as `userId`). */
  subscriber(channel: string, userId?: string): Promise<Client>;
}

export function harness(
  config: Partial<AppConfig> = {},
  options: Partial<PusherServerOptions> = {},
): Harness {
  const app = testApp(config);
  const events = new RecordedEvents();
  const presence = new MemoryPresenceStore();
  const server = new PusherServer({
    apps: new StaticAppStore([app]),
    adapter: new MemoryAdapter('node-a'),
    presence,
    cache: new MemoryLastEventStore(),
    events,
    logger: silent,
    activityTimeoutSeconds: 120,
    pongTimeoutSeconds: 30,
    maxMessageBytes: 10_240,
    ...options,
  });
  const sdk = sdkFor(app);

  const open = async (query = 'protocol=7', key = app.key) => {
    const connection = new FakeConnection();
    const request = { params: [key], query: new URLSearchParams(query), protocol: '', headers: {} };
    const socket = server.open(connection, request);
    connection.session = socket;
    return { connection, first: await connection.next() };
  };

  const connect = async (): Promise<Client> => {
    const connection = new FakeConnection();
    const request = { params: [app.key], query: new URLSearchParams(), protocol: '', headers: {} };
    const socket = server.open(connection, request);
    connection.session = socket;
    const established = await connection.next('pusher:connection_established');
    const socketId = (established.data as { socket_id: string }).socket_id;
    const send = (event: string, data?: unknown, channel?: string) => {
      const text = JSON.stringify({ event, data, ...(channel === undefined ? {} : { channel }) });
      socket.onMessage(text, Buffer.byteLength(text));
    };
    const subscribe = (channel: string, auth: object = {}) => {
      send('pusher:subscribe', { channel, ...auth });
      return connection.nextWhere(
        (f) =>
          f.channel === channel &&
          (f.event === 'pusher_internal:subscription_succeeded' || f.event === 'pusher:subscription_error'),
      );
    };
    return { connection, socket, socketId, send, subscribe };
  };

  const subscriber = async (channel: string, userId = 'u1') => {
    const client = await connect();
    const auth = channel.startsWith('presence-')
      ? sdk.authorizeChannel(client.socketId, channel, { user_id: userId, user_info: { name: userId } })
      : channel.startsWith('private-')
        ? sdk.authorizeChannel(client.socketId, channel)
        : {};
    const answer = await client.subscribe(channel, auth);
    if (answer.event !== 'pusher_internal:subscription_succeeded') {
      throw new Error(`${channel}: ${JSON.stringify(answer)}`);
    }
    return client;
  };

  return { server, app, events, presence, sdk, open, connect, subscriber };
}

/** A socket outside any server, for the parts tested alone. */
export function bareSocket(app: App, id: string, now: () => number = Date.now): PusherSocket {
  const owner: SocketOwner = { message() {}, binary() {}, overflowed() {}, closed() {}, now };
  const socket = new PusherSocket(owner, new FakeConnection());
  socket.id = id;
  socket.app = app;
  socket.state = 'open';
  return socket;
}

/** The fake connection of a socket made by `bareSocket`. */
export const connectionOf = (socket: PusherSocket) => socket.connection as FakeConnection;
