import type { Adapter } from '../../adapters/adapter.js';
import { busFields, MalformedBusMessage } from '../../adapters/bus-payload.js';
import type { App } from '../../core/apps/app.js';
import type { CachedEvent, LastEventStore } from '../../core/cache/store.js';
import type { HistoryPage, ReadAfter } from '../../core/channel-history/store.js';
import { channelKind } from '../../core/channels/names.js';
import type { DebugFeed } from '../../core/debug-feed.js';
import type { PresenceMember, PresenceStore } from '../../core/presence/store.js';
import { type AppStates, namespaceOf } from './app-states.js';
import { encodeChannelEvent } from './codec.js';
import { type EventPublishParts, publishEvent } from './stream-publish.js';
import { type Users, WATCHLIST_OP } from './users.js';

/**
 * What the HTTP API asks of the Pusher protocol: publishing, and counts and lists that are the
 * cluster's, whichever node is asked (Pusher docs, HTTP API reference).
 */
export interface PusherQueries {
  /**
   * Publishes an event to a channel on every node; `except` is a socket_id that must not get it.
   * Events to cache channels are kept as the channel's last event first.
   */
  publish(app: App, channel: string, event: string, data: string, except?: string): Promise<void>;
  /** Connections subscribed to `channel` on every node that answered in time. */
  subscriptions(app: App, channel: string): Promise<number>;
  /**
   * The channels whose names start with `prefix` and that have subscribers on any node that answered
   * in time, each with its connections summed over those nodes; asked of every node at once. The
   * channels this node holds come first, then those of the others in the order they answered.
   */
  channelCounts(app: App, prefix: string): Promise<Map<string, number>>;
  /** Open connections of the app on every node that answered in time. */
  connections(app: App): Promise<number>;
  presenceMembers(app: App, channel: string): Promise<PresenceMember[]>;
  /** Distinct users of a presence channel. */
  presenceCount(app: App, channel: string): Promise<number>;
  /** A cache channel's last event and its remaining time to live, for `info=cache`. */
  cached(app: App, channel: string): Promise<{ event: CachedEvent; ttlMs: number } | undefined>;
  /**
   * Closes every connection signed in as `userId`, on every node (Pusher docs, Terminating user
   * connections); resolves once asked, not once closed.
   */
  terminateUser(app: App, userId: string): Promise<void>;
  /**
   * Up to `limit` events of the channel's stream after `after` (docs/recovery.md); undefined when
   * this server keeps no streams. The caller checks that the channel keeps one.
   */
  streamEvents(app: App, channel: string, after: ReadAfter, limit: number): Promise<HistoryPage | undefined>;
}

/** Each node's subscribed connections per channel, for the channels named with a prefix. */
const CHANNEL_COUNTS = 'pusher.channel-counts';

/** What the queries need: the adapter to ask every node, and the shared stores. */
export interface QueryParts extends EventPublishParts {
  readonly adapter: Pick<Adapter, 'publish' | 'request' | 'broadcast'>;
  readonly presence: Pick<PresenceStore, 'members' | 'count'>;
  readonly cache: Pick<LastEventStore, 'get' | 'set'>;
  /** Where published events are reported for the debug console. */
  readonly feed?: DebugFeed;
}

/** The questions to every node, each answered by `answerPeers` on every node. */
export class ClusterQueries implements PusherQueries {
  readonly #parts: QueryParts;

  constructor(parts: QueryParts) {
    this.#parts = parts;
  }

  async publish(app: App, channel: string, event: string, data: string, except?: string): Promise<void> {
    const namespace = namespaceOf(app.id);
    const feed = this.#parts.feed;
    if (feed?.watched(namespace))
      feed.report(namespace, { type: 'api_message', channel, event, data, socketId: except });
    if (channelKind(channel).cache) {
      await this.#parts.cache.set(namespace, channel, { event, data }, app.cacheTtlSeconds * 1000);
    }
    await publishEvent(this.#parts, app, {
      namespace,
      channel,
      text: encodeChannelEvent(event, channel, data),
      except,
    });
  }

  async subscriptions(app: App, channel: string): Promise<number> {
    const result = await this.#parts.adapter.request<unknown>('pusher.subscriptions', {
      appId: app.id,
      channel,
    });
    return sumOfCounts(result.answers);
  }

  async channelCounts(app: App, prefix: string): Promise<Map<string, number>> {
    const result = await this.#parts.adapter.request<unknown>(CHANNEL_COUNTS, { appId: app.id, prefix });
    const counts = new Map<string, number>();
    for (const answer of result.answers) {
      // Another node's answer is checked like any bus payload: what is not a count is left out.
      if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) continue;
      for (const [channel, n] of Object.entries(answer)) {
        if (typeof n !== 'number' || !Number.isFinite(n) || !channel.startsWith(prefix)) continue;
        counts.set(channel, (counts.get(channel) ?? 0) + n);
      }
    }
    return counts;
  }

  async connections(app: App): Promise<number> {
    const result = await this.#parts.adapter.request<unknown>('pusher.connections', { appId: app.id });
    return sumOfCounts(result.answers);
  }

  presenceMembers(app: App, channel: string): Promise<PresenceMember[]> {
    return this.#parts.presence.members(namespaceOf(app.id), channel);
  }

  presenceCount(app: App, channel: string): Promise<number> {
    return this.#parts.presence.count(namespaceOf(app.id), channel);
  }

  cached(app: App, channel: string) {
    return this.#parts.cache.get(namespaceOf(app.id), channel);
  }

  terminateUser(app: App, userId: string): Promise<void> {
    return this.#parts.adapter.broadcast('pusher.terminate', { appId: app.id, userId });
  }

  async streamEvents(
    app: App,
    channel: string,
    after: ReadAfter,
    limit: number,
  ): Promise<HistoryPage | undefined> {
    return this.#parts.history?.read(namespaceOf(app.id), channel, after, limit);
  }
}

/**
 * Registers this node's answers to what other nodes ask (`ClusterQueries`, and the watchlist
 * announcements of `Users`), from the apps' state on this node. Payloads from other nodes are
 * checked before use.
 */
export function answerPeers(
  adapter: Pick<Adapter, 'handle'>,
  apps: AppStates,
  users: Pick<Users, 'terminate' | 'tellWatchers'>,
): void {
  adapter.handle('pusher.subscriptions', (p) => {
    const { appId, channel } = busFields('pusher.subscriptions', p, { appId: 'string', channel: 'string' });
    return apps.get(appId)?.registry.count(channel) ?? 0;
  });
  adapter.handle(CHANNEL_COUNTS, (p) => {
    const { appId, prefix } = busFields(CHANNEL_COUNTS, p, { appId: 'string', prefix: 'string' });
    // Channel names are the clients': a null-prototype object keeps `__proto__` a plain key.
    const counts: Record<string, number> = Object.create(null);
    const registry = apps.get(appId)?.registry;
    if (!registry) return counts;
    for (const channel of registry.channels()) {
      if (channel.startsWith(prefix)) counts[channel] = registry.count(channel);
    }
    return counts;
  });
  // The channel list as nodes of earlier versions ask for it, while a cluster is upgraded one node at a time.
  adapter.handle('pusher.channels', (p) => {
    const registry = apps.get(busFields('pusher.channels', p, { appId: 'string' }).appId)?.registry;
    return registry ? [...registry.channels()] : [];
  });
  adapter.handle(
    'pusher.connections',
    (p) => apps.get(busFields('pusher.connections', p, { appId: 'string' }).appId)?.sockets.size ?? 0,
  );
  adapter.handle('pusher.terminate', (p) => {
    const { appId, userId } = busFields('pusher.terminate', p, { appId: 'string', userId: 'string' });
    const state = apps.get(appId);
    return state ? users.terminate(state.app, userId) : 0;
  });
  adapter.handle(WATCHLIST_OP, (p) => {
    const { appId, userId, name } = busFields(WATCHLIST_OP, p, {
      appId: 'string',
      userId: 'string',
      name: 'string',
    });
    const state = apps.get(appId);
    if (name !== 'online' && name !== 'offline')
      throw new MalformedBusMessage(`${WATCHLIST_OP}: no event "${name}"`);
    if (state) users.tellWatchers(state.app, userId, name);
  });
}

/** The nodes' counts added up; another node's answer is checked like any bus payload, and what is not a count is left out. */
function sumOfCounts(answers: readonly unknown[]): number {
  let sum = 0;
  for (const n of answers) if (typeof n === 'number' && Number.isFinite(n) && n >= 0) sum += n;
  return sum;
}
