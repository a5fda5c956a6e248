import type { Logger } from 'pino';
import type { Adapter } from '../../adapters/adapter.js';
import type { App, AppStore } from '../../core/apps/app.js';
import type { LastEventStore } from '../../core/cache/store.js';
import type { OccupancyStore } from '../../core/channels/occupancy.js';
import type { ChannelRegistry } from '../../core/channels/registry.js';
import type { DebugFeed } from '../../core/debug-feed.js';
import type { LimitName } from '../../core/limit-refusals.js';
import type { PresenceStore } from '../../core/presence/store.js';
import type { AppTraffic } from '../../core/traffic.js';
import type { PusherError } from './errors.js';
import type { ChannelEvents } from './events.js';
import type { PusherSocket } from './socket.js';
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
}

/** One app's state on this node. */
export interface AppState {
  /** The app as last looked up. */
  app: App;
  readonly namespace: string;
  readonly sockets: Map<string, PusherSocket>;
  readonly registry: ChannelRegistry<PusherSocket>;
  readonly users: UserRegistry;
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
