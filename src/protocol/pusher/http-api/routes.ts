import { type App, type AppStore, AppStoreUnavailable } from '../../../core/apps/app.js';
import { streamRule } from '../../../core/channel-history/rules.js';
import { channelKind, channelNameProblem } from '../../../core/channels/names.js';
import type { HttpHandler, HttpRequest, HttpResult, Router } from '../../../http/router.js';
import type { PusherQueries } from '../queries.js';
import { pusherApiError } from './errors.js';
import { streamEventsBody, streamEventsQuery } from './stream-events.js';
import { queryParams, verifyRequest } from './verify.js';

export interface HttpApiOptions {
  apps: AppStore;
  /** Publishing, and the cluster's counts and lists. */
  queries: PusherQueries;
  maxTimestampSkewSeconds: number;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Live nodes of the cluster, this one included: each allows its share of an app's request rate. @default 1 */
  nodes?: () => number;
  /**
   * `pathPrefix`: the API answers under it (`<prefix>/apps/{id}/…`) as well as at `/apps/{id}/…`. A
   * request is signed over its path as it arrived, the prefix included. @default '' (none)
   */
  pathPrefix?: string;
}

const SOCKET_ID = /^\d+\.\d+$/;

/** An event to publish, validated. */
export interface EventRequest {
  name: string;
  channels: string[];
  data: string;
  socketId: string | undefined;
  info: Set<string>;
}

/**
 * The Pusher HTTP API (Pusher docs, HTTP API reference), every request signed as its "Authentication"
 * says; at `/apps/{id}/…`, and under `pathPrefix` too when there is one.
 */
export function addPusherHttpApi(router: Router, options: HttpApiOptions): void {
  const { queries } = options;
  const pathPrefix = options.pathPrefix ?? '';
  const routes: { method: string; path: string; handler: HttpHandler }[] = [];
  const route = (method: string, path: string, handler: HttpHandler) => {
    routes.push({ method, path, handler });
  };
  /** Per app: start of the current one-second window and the requests counted in it. */
  const rates = new Map<string, { window: number; count: number }>();

  const rateLimit = (app: App): void => {
    if (app.maxHttpRequestsPerSecond === null) return;
    const now = options.now();
    let rate = rates.get(app.id);
    if (!rate || now - rate.window >= 1000) {
      rate = { window: now, count: 0 };
      rates.set(app.id, rate);
    }
    const nodes = options.nodes?.() ?? 1;
    if (++rate.count > Math.ceil(app.maxHttpRequestsPerSecond / nodes)) {
      const where = nodes > 1 ? ` across ${nodes} nodes` : '';
      throw pusherApiError('RATE_LIMITED', app.id, app.maxHttpRequestsPerSecond, where);
    }
  };

  const authenticated = async (
    request: HttpRequest,
  ): Promise<{ app: App; params: Record<string, string> }> => {
    const app = await options.apps.findById(request.params[0]!).catch((err: unknown) => {
      if (err instanceof AppStoreUnavailable)
        throw pusherApiError('APPS_UNAVAILABLE', String(request.params[0]));
      throw err;
    });
    if (!app) throw pusherApiError('APP_NOT_FOUND', String(request.params[0]));
    request.app = app.id;
    const params = queryParams(request.url);
    // The path as the request carried it, `pathPrefix` included; under the prefix, the path without
    // it too, as pusher-http-php signs what it sends under its `path` option. Any other path is refused.
    const path = request.url.pathname;
    const prefixed = pathPrefix !== '' && path.startsWith(`${pathPrefix}/apps/`);
    verifyRequest(
      app,
      request.method,
      path,
      params,
      request.body,
      Math.floor(options.now() / 1000),
      options.maxTimestampSkewSeconds,
      prefixed ? path.slice(pathPrefix.length) : undefined,
    );
    if (!app.enabled) throw pusherApiError('APP_DISABLED', app.id);
    rateLimit(app);
    return { app, params };
  };

  const channelInfo = async (
    app: App,
    channel: string,
    info: Set<string>,
  ): Promise<Record<string, number>> => {
    const result: Record<string, number> = {};
    if (info.has('user_count') && channelKind(channel).presence) {
      result.user_count = await queries.presenceCount(app, channel);
    }
    if (info.has('subscription_count')) result.subscription_count = await queries.subscriptions(app, channel);
    return result;
  };

  /** Publishes validated events, then reads the requested counts (independent of delivery). */
  const publishWithInfo = async (app: App, events: EventRequest[]) => {
    await Promise.all(
      events.flatMap((e) => e.channels.map((ch) => queries.publish(app, ch, e.name, e.data, e.socketId))),
    );
    // Channel names come from clients: a null-prototype object keeps `__proto__` as a plain key.
    const channels: Record<string, Record<string, number>> = Object.create(null);
    const perEvent: Record<string, number>[] = [];
    for (const e of events) {
      const merged: Record<string, number> = {};
      for (const ch of e.channels) {
        const info = await channelInfo(app, ch, e.info);
        channels[ch] = info;
        Object.assign(merged, info);
      }
      perEvent.push(merged);
    }
    return { channels, perEvent };
  };

  route('POST', '/apps/:id/events', async (request) => {
    const { app } = await authenticated(request);
    const event = parseEvent(app, jsonObject(request.body), 'multi');
    // Without `info`, what the SDKs send nearly always: publish and answer, nothing to count.
    if (event.info.size === 0) {
      await Promise.all(
        event.channels.map((ch) => queries.publish(app, ch, event.name, event.data, event.socketId)),
      );
      return { status: 200, body: {} };
    }
    const { channels } = await publishWithInfo(app, [event]);
    return { status: 200, body: { channels } };
  });

  route('POST', '/apps/:id/batch_events', async (request) => {
    const { app } = await authenticated(request);
    const batch = jsonObject(request.body).batch;
    if (!Array.isArray(batch)) throw pusherApiError('BATCH_NOT_ARRAY');
    if (batch.length > app.maxBatchSize)
      throw pusherApiError('BATCH_TOO_LARGE', batch.length, app.maxBatchSize);
    const events = batch.map((item, i) => {
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        throw pusherApiError('BATCH_ITEM_NOT_OBJECT', i);
      }
      return parseEvent(app, item as Record<string, unknown>, 'single', `batch[${i}].`);
    });
    const { perEvent } = await publishWithInfo(app, events);
    const anyInfo = events.some((e) => e.info.size > 0);
    return { status: 200, body: anyInfo ? { batch: perEvent } : {} };
  });

  route('GET', '/apps/:id/channels', async (request) => {
    const { app, params } = await authenticated(request);
    const prefix = params.filter_by_prefix ?? '';
    const info = infoSet(params.info);
    if (info.has('user_count') && !prefix.startsWith('presence-')) {
      throw pusherApiError('USER_COUNT_NEEDS_PRESENCE_PREFIX');
    }
    // One question to every node for all the channels and their counts, not one per channel.
    const channels: Record<string, Record<string, number>> = Object.create(null);
    for (const [name, subscriptions] of await queries.channelCounts(app, prefix)) {
      const kind = channelKind(name);
      if (kind.user) continue;
      const result: Record<string, number> = {};
      if (info.has('user_count') && kind.presence) result.user_count = await queries.presenceCount(app, name);
      if (info.has('subscription_count')) result.subscription_count = subscriptions;
      channels[name] = result;
    }
    return { status: 200, body: { channels } };
  });

  route('GET', '/apps/:id/channels/:channel_name', async (request) => {
    const { app, params } = await authenticated(request);
    const channel = validChannel(app, request.params[1]!);
    const info = infoSet(params.info);
    if (info.has('user_count') && !channelKind(channel).presence) {
      throw pusherApiError('USER_COUNT_NOT_PRESENCE');
    }
    const subscriptions = await queries.subscriptions(app, channel);
    const body: Record<string, unknown> = {
      occupied: subscriptions > 0,
      ...(await channelInfo(app, channel, info)),
    };
    if (info.has('cache')) {
      if (!channelKind(channel).cache) throw pusherApiError('CACHE_INFO_NOT_CACHE');
      const cached = await queries.cached(app, channel);
      body.cache = cached ? { data: cached.event.data, ttl: Math.ceil(cached.ttlMs / 1000) } : null;
    }
    return { status: 200, body };
  });

  route('GET', '/apps/:id/channels/:channel_name/users', async (request) => {
    const { app } = await authenticated(request);
    const channel = validChannel(app, request.params[1]!);
    if (!channelKind(channel).presence) throw pusherApiError('NOT_PRESENCE_CHANNEL', channel);
    const members = await queries.presenceMembers(app, channel);
    return { status: 200, body: { users: members.map((m) => ({ id: m.userId })) } } satisfies HttpResult;
  });

  route('GET', '/apps/:id/channels/:channel_name/events', async (request) => {
    const { app, params } = await authenticated(request);
    const channel = validChannel(app, request.params[1]!);
    const { after, limit } = streamEventsQuery(params);
    if (!streamRule(app.history, channel)) throw pusherApiError('NO_HISTORY', channel);
    const page = await queries.streamEvents(app, channel, after, limit);
    if (!page) throw pusherApiError('HISTORY_UNAVAILABLE');
    return { status: 200, body: streamEventsBody(page) };
  });

  route('POST', '/apps/:id/users/:user_id/terminate_connections', async (request) => {
    const { app } = await authenticated(request);
    await queries.terminateUser(app, request.params[1]!);
    return { status: 200, body: {} };
  });

  // The prefixed routes after all the others: a request without the prefix tests no more patterns.
  for (const { method, path, handler } of routes) router.add(method, path, handler);
  if (pathPrefix === '') return;
  for (const { method, path, handler } of routes) router.add(method, path, handler, pathPrefix);
}

export function jsonObject(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw pusherApiError('BODY_NOT_JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw pusherApiError('BODY_NOT_OBJECT');
  }
  return parsed as Record<string, unknown>;
}

function infoSet(info: unknown): Set<string> {
  if (info === undefined || info === null || info === '') return new Set();
  if (typeof info !== 'string') throw pusherApiError('INFO_NOT_STRING');
  return new Set(
    info
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

/** `name` as a channel name, or a 400 naming `field`; any JSON value may arrive here. */
function validChannel(app: App, name: unknown, field = 'channel'): string {
  if (typeof name !== 'string') throw pusherApiError('CHANNEL_NOT_STRING', field);
  const problem = channelNameProblem(name, app.maxChannelNameLength);
  if (problem) throw pusherApiError('CHANNEL_NAME_INVALID', field, name, problem);
  return name;
}

/**
 * Event name prefixes the protocol keeps for itself ("Events" in the Pusher Channels docs: `pusher:`
 * for the protocol's own events, `pusher_internal:` for what the server says to the client library;
 * `herald:` for message recovery, docs/recovery.md); a published event may not pretend to be one of them.
 */
const RESERVED_EVENT_PREFIXES = ['pusher:', 'pusher_internal:', 'herald:'];

/** Checks one event of `POST /events` ('multi': `channels` or `channel`) or of a batch ('single'). */
export function parseEvent(
  app: App,
  body: Record<string, unknown>,
  form: 'multi' | 'single',
  at = '',
): EventRequest {
  const { name, data, socket_id: socketId } = body;
  if (typeof name !== 'string' || name.length === 0) throw pusherApiError('EVENT_NAME_MISSING', at);
  if (name.length > app.maxEventNameLength) {
    throw pusherApiError('EVENT_NAME_TOO_LONG', at, app.maxEventNameLength);
  }
  const reserved = RESERVED_EVENT_PREFIXES.find((prefix) => name.startsWith(prefix));
  if (reserved) throw pusherApiError('EVENT_NAME_RESERVED', at, reserved);
  if (typeof data !== 'string') throw pusherApiError('EVENT_DATA_NOT_STRING', at);
  const bytes = Buffer.byteLength(data);
  if (bytes > app.maxEventPayloadBytes) {
    throw pusherApiError('EVENT_DATA_TOO_LARGE', at, bytes, app.maxEventPayloadBytes);
  }
  if (socketId !== undefined && (typeof socketId !== 'string' || !SOCKET_ID.test(socketId))) {
    throw pusherApiError('SOCKET_ID_INVALID', at);
  }
  let channels: unknown[];
  /** The field each channel came from, for error messages. */
  let field: (i: number) => string;
  if (form === 'multi' && body.channels !== undefined) {
    if (!Array.isArray(body.channels)) throw pusherApiError('CHANNELS_NOT_ARRAY');
    channels = body.channels;
    field = (i) => `${at}channels[${i}]`;
  } else if (body.channel !== undefined) {
    channels = [body.channel];
    field = () => `${at}channel`;
  } else {
    throw pusherApiError('CHANNEL_REQUIRED', at, form === 'multi' ? 'channels or channel' : 'channel');
  }
  if (channels.length === 0) throw pusherApiError('CHANNELS_EMPTY', at);
  if (channels.length > app.maxChannelsPerTrigger) {
    throw pusherApiError('TOO_MANY_CHANNELS', at, channels.length, app.maxChannelsPerTrigger);
  }
  const names = channels.map((ch, i) => validChannel(app, ch, field(i)));
  return { name, channels: [...new Set(names)], data, socketId, info: infoSet(body.info) };
}
