import type { Adapter } from '../adapters/adapter.js';
import { type App, type AppStore, AppStoreUnavailable } from '../core/apps/app.js';
import { type ChannelKind, channelKind, channelNameProblem } from '../core/channels/names.js';
import { httpErrorEntry as entry, httpErrors } from '../http/errors.js';
import type { HttpRequest } from '../http/router.js';
import { pusherApiError } from '../protocol/pusher/http-api/errors.js';
import { jsonObject, parseEvent } from '../protocol/pusher/http-api/routes.js';
import type { PusherQueries } from '../protocol/pusher/queries.js';
import type { DashboardAccess } from './routes.js';
import { clusterStats, SAMPLE_INTERVAL_MS } from './stats.js';

/** The refusals of the app views, thrown as `ERR_DASHBOARD_<NAME>` and answered as `{"error": message}`. */
export const AppViewErrors = {
  APP_NOT_FOUND: entry(404, (appId: string) => `Unknown app id "${appId}"`),
  /** The app store (a database) did not answer for an app not in the cache. */
  APPS_UNAVAILABLE: entry(503, () => 'The app store cannot be read now; try again'),
  CHANNEL_NAME_INVALID: entry(400, (problem: string) => `Invalid channel name: ${problem}`),
} as const;

const appViewError = httpErrors('ERR_DASHBOARD_', AppViewErrors);

/** The most apps the list shows, and the most channels a channel list shows. */
export const MAX_LISTED = 1000;

export interface AppViewOptions {
  apps: AppStore;
  /** The Pusher server's publishing and cluster-wide counts and lists. */
  queries: PusherQueries;
  /** To ask every node for its history of an app. */
  adapter: Pick<Adapter, 'request'>;
}

/**
 * The dashboard's views of the Pusher apps (docs/dashboard.md, "Views' HTTP API"): the app list, an
 * app's last 15 minutes, its occupied channels and one channel's subscribers, members and cached event,
 * and the event creator, which publishes as `POST /apps/{id}/events` of the HTTP API does.
 */
export function addAppRoutes(dashboard: DashboardAccess, options: AppViewOptions): void {
  const { queries } = options;

  const appOf = async (request: HttpRequest): Promise<App> => {
    const id = request.params[0]!;
    const app = await options.apps.findById(id).catch((err: unknown) => {
      if (err instanceof AppStoreUnavailable) throw appViewError('APPS_UNAVAILABLE');
      throw err;
    });
    if (!app) throw appViewError('APP_NOT_FOUND', id);
    return app;
  };

  dashboard.route('GET', '/apps', async () => {
    const apps = await options.apps.all(MAX_LISTED).catch((err: unknown) => {
      if (err instanceof AppStoreUnavailable) throw appViewError('APPS_UNAVAILABLE');
      throw err;
    });
    const listed = [...apps]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((app) => ({ id: app.id, key: app.key, enabled: app.enabled }));
    return { status: 200, body: { apps: listed } };
  });

  dashboard.route('GET', '/apps/:id/stats', async (request) => {
    const app = await appOf(request);
    const samples = await clusterStats(options.adapter, app.id);
    return { status: 200, body: { intervalMs: SAMPLE_INTERVAL_MS, samples } };
  });

  dashboard.route('GET', '/apps/:id/channels', async (request) => {
    const app = await appOf(request);
    const filter = request.url.searchParams.get('filter') ?? '';
    const channels: { name: string; subscriptionCount: number; kind: string }[] = [];
    for (const [name, subscriptionCount] of await queries.channelCounts(app, '')) {
      if (name.includes(filter))
        channels.push({ name, subscriptionCount, kind: kindName(channelKind(name)) });
    }
    channels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { status: 200, body: { channels: channels.slice(0, MAX_LISTED) } };
  });

  dashboard.route('GET', '/apps/:id/channels/:name', async (request) => {
    const app = await appOf(request);
    const name = request.params[1]!;
    const problem = channelNameProblem(name, app.maxChannelNameLength);
    if (problem) throw appViewError('CHANNEL_NAME_INVALID', problem);
    const kind = channelKind(name);
    const body: Record<string, unknown> = {
      name,
      subscriptionCount: await queries.subscriptions(app, name),
      kind: kindName(kind),
    };
    if (kind.presence) {
      const members = await queries.presenceMembers(app, name);
      body.members = members.map((m) => ({ id: m.userId, info: m.info }));
    }
    if (kind.cache) {
      const cached = await queries.cached(app, name);
      body.cached = cached ? { event: cached.event.event, data: cached.event.data } : null;
    }
    return { status: 200, body };
  });

  // The HTTP API's checks and publishing, its refusals word for word: `event` is its `name`.
  dashboard.route('POST', '/apps/:id/events', async (request) => {
    const app = await appOf(request);
    if (!app.enabled) throw pusherApiError('APP_DISABLED', app.id);
    const { channel, event, data } = jsonObject(request.body);
    const parsed = parseEvent(app, { name: event, channel, data }, 'single');
    for (const name of parsed.channels) await queries.publish(app, name, parsed.name, parsed.data);
    return { status: 200, body: { ok: true } };
  });
}

/**
 * A channel's kind as the views name it: the name prefix that decides it without its dash
 * (`private-encrypted-cache`, `presence`, `cache`…), `user` for `#server-to-user-`, else `public`.
 */
export function kindName(kind: ChannelKind): string {
  if (kind.user) return 'user';
  const parts = [
    kind.presence ? 'presence' : kind.authorized ? 'private' : '',
    kind.encrypted ? 'encrypted' : '',
    kind.cache ? 'cache' : '',
  ].filter(Boolean);
  return parts.length > 0 ? parts.join('-') : 'public';
}
