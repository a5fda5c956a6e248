import type { Logger } from 'pino';
import type { Adapter } from '../../adapters/adapter.js';
import type { App, AppStore } from '../../core/apps/app.js';
import type { LastEventStore } from '../../core/cache/store.js';
import type { ChannelHistory } from '../../core/channel-history/store.js';
import type { OccupancyStore } from '../../core/channels/occupancy.js';
import type { ChannelRegistry } from '../../core/channels/registry.js';
import type { DebugFeed } from '../../core/debug-feed.js';
import type { LimitName } from '../../core/limit-refusals.js';
import type { PresenceStore } from '../../core/presence/store.js';
import type { AppTraffic } from '../../core/traffic.js';
import type { PusherError } from './errors.js';
import type { ChannelEvents } from './events.js';
import type { PusherSocket } from './socket.js';
import type { StreamTally } from './stream-tally.js';
import type { UserRegistry } from './user-registry.js';

export interface PusherServerOptions {
  apps: AppStore;
  adapter: Adapter;
  presence: PresenceStore;
  cache: LastEventStore;
  /** Decides occupied/vacated across nodes. @default this node alone */
  occupancy?: OccupancyStore;
  /** Told of occupancy, membership and client events (webhooks). @default ignores them */
  events?: ChannelEvents;
  logger: Logger;
  activityTimeoutSeconds: number;
  pongTimeoutSeconds: number;
  maxMessageBytes: number;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** Makes socket ids; tests pin it to reproduce the examples of Pusher docs, Auth signatures. */
  socketIds?: () => string;
  /** Told of each refusal by a limit, for `herald_limit_refusals_total`. @default not counted */
  limitRefusals?: { count(limit: LimitName): void };
  /** While `over` (the server's `maxMemoryMB`), new subscriptions are refused. @default never over */
  memory?: { readonly over: boolean };
  /** Where each app's connections, traffic and client events are counted, for the metrics. @default counted, not shown */
  traffic?: AppTraffic;
  /** Where what happens is reported for the dashboard's debug console. @default a feed nobody watches */
  debugFeed?: DebugFeed;
  /**
   * The streams of the channels apps keep history of, and resume states (docs/recovery.md). @default
   * none: apps' `history` is not served
   */
  channelHistory?: ChannelHistory;
}

/** One app's state on this node. */
export interface AppState {
  /** The app as last looked up. */
  app: App;
  readonly namespace: string;
  readonly sockets: Map<string, PusherSocket>;
  readonly registry: ChannelRegistry<PusherSocket>;
  readonly users: UserRegistry;
  /** Open connections of the app by resume token (apps with `history`). */
  readonly resumable: Map<string, PusherSocket>;
}

/** The server options subscribing uses. */
export interface SubscriptionsOptions {
  readonly adapter: Pick<Adapter, 'publish' | 'addInterest' | 'removeInterest'>;
  readonly presence: Pick<PresenceStore, 'join' | 'leave' | 'members'>;
  readonly cache: Pick<LastEventStore, 'get'>;
  readonly occupancy?: Pick<OccupancyStore, 'occupy' | 'vacate'> | undefined;
  readonly memory?: { readonly over: boolean } | undefined;
  readonly logger: Logger;
}

/** What `Subscriptions` needs of the server; built once by it. */
export interface SubscriptionsContext {
  readonly options: SubscriptionsOptions;
  readonly events: ChannelEvents;
  /** The debug console's feed: subscribes and unsubscribes are reported there while watched. */
  readonly feed?: DebugFeed;
  readonly now: () => number;
  /**
   * For the cluster-wide subscription counts: `PusherQueries.subscriptions`, declared here because
   * queries.ts reaches this module (through users.ts and app-states.ts).
   */
  readonly queries: { subscriptions(app: App, channel: string): Promise<number> };
  state(app: App): AppState;
  /** Message recovery on channels that keep a stream; absent without a history store. */
  readonly recovery?: SubscriptionRecovery | undefined;
  /** Counts `work` as in flight until it settles, so shutdown waits for it; it must not reject. */
  track(work: Promise<void>): void;
  /**
   * Sends a refusal: its `pusher:subscription_error` when it has one, its `pusher:error`, and the close
   * when its code is in a closing band (see `answer` in refusal.ts).
   */
  answer(socket: PusherSocket, err: PusherError): void;
}

/** The server options user authentication uses. */
export interface UsersOptions {
  readonly adapter: Pick<Adapter, 'broadcast'>;
  readonly presence: Pick<PresenceStore, 'join' | 'leave' | 'members'>;
  readonly logger: Logger;
  /** Milliseconds since the epoch: which of the app's secrets sign-ins may be signed with. */
  readonly now: () => number;
}

/** What `Users` needs of the server; built once by it. */
export interface UsersContext {
  readonly options: UsersOptions;
  state(app: App): AppState;
  /** As `SubscriptionsContext.answer`. */
  answer(socket: PusherSocket, err: PusherError): void;
}

/**
 * Sends a subscription's answer: `subscription_succeeded`, then with `cache` the cache channel's last
 * event, calling `counted` as it sends one (the client counts it as a channel event).
 */
export type Succeeded = (cache: boolean, counted?: () => void) => Promise<void>;

/**
 * What subscribing asks of message recovery (`Recovery` in recovery.ts, docs/recovery.md), declared
 * here because recovery.ts reaches this module.
 */
export interface SubscriptionRecovery {
  /** The tally of a channel being subscribed to, when it keeps a stream; live events are held until it is answered. */
  open(socket: PusherSocket, app: App, channel: string): StreamTally | undefined;
  /** The subscription is gone, or never was. */
  close(socket: PusherSocket, channel: string): void;
  /** The channel's last subscriber on this node left: its events are no longer put in order here. */
  vacated(namespace: string, channel: string): void;
  /** Answers a new subscription to a channel that keeps a stream: a replay, or counting from now. */
  answer(
    socket: PusherSocket,
    app: App,
    channel: string,
    tally: StreamTally,
    succeeded: Succeeded,
  ): Promise<void>;
  /** Answers the same subscription again, counting from 0. */
  again(socket: PusherSocket, channel: string, succeeded: Succeeded): Promise<void>;
  /** After answering a channel without a stream: `herald:resumed` false when the resume counted it. */
  unkept(socket: PusherSocket, channel: string): void;
}
