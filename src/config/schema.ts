import { z } from 'zod';

/**
 * The single source of truth for configuration: types, defaults, validation and (through
 * `envEntries`) environment-variable names. Every default is written next to its field.
 */

export const WEBHOOK_EVENTS = [
  'channel_occupied',
  'channel_vacated',
  'member_added',
  'member_removed',
  'client_event',
  'cache_miss',
  'subscription_count',
] as const;

const positiveInt = () => z.number().int().positive();

export const webhookSchema = z.strictObject({
  /** Where events are POSTed. */
  url: z.url({ protocol: /^https?$/ }),
  /** Which events go to this URL. @default every event */
  events: z.array(z.enum(WEBHOOK_EVENTS)).default([...WEBHOOK_EVENTS]),
  /** Extra request headers. @default {} */
  headers: z.record(z.string(), z.string()).default({}),
  /** Only channels whose name starts with this prefix. @default none */
  filter: z.strictObject({ channelPrefix: z.string() }).optional(),
});

export const appSchema = z.strictObject({
  id: z.string().min(1),
  key: z.string().min(1),
  secret: z.string().min(1),
  /** A disabled app refuses connections (4003) and HTTP requests (403). @default true */
  enabled: z.boolean().default(true),
  /** Allow `client-` events on private and presence channels. @default false (as Pusher) */
  clientEvents: z.boolean().default(false),
  /** Send `pusher_internal:subscription_count` to subscribers when a channel's count changes. @default false */
  subscriptionCount: z.boolean().default(false),
  /** Send watchlist online/offline events to signed-in users (spec §5.4). @default false */
  watchlistEvents: z.boolean().default(false),
  /** How long a cache channel keeps its last event. @default 1800 */
  cacheTtlSeconds: positiveInt().default(1800),
  /** Close connections that do not sign in within `userAuthenticationTimeoutMs` (4009). @default false */
  userAuthentication: z.boolean().default(false),
  /** @default 30000 */
  userAuthenticationTimeoutMs: positiveInt().default(30_000),
  /** Concurrent connections; null is unlimited. Over it: close 4004. @default null */
  maxConnections: positiveInt().nullable().default(null),
  /** Distinct users per presence channel. @default 100 */
  maxPresenceMembers: positiveInt().default(100),
  /** Bytes of a presence member's JSON `user_info`. @default 1024 */
  maxPresenceUserInfoBytes: positiveInt().default(1024),
  /** Characters of a presence `user_id`. @default 128 */
  maxPresenceUserIdLength: positiveInt().default(128),
  /** Client events per connection per second; the next one gets error 4301. @default 10 */
  maxClientEventsPerSecond: positiveInt().default(10),
  /** Bytes of an event's `data` (HTTP 413 above it). @default 10240 */
  maxEventPayloadBytes: positiveInt().default(10_240),
  /** Characters of an event name. @default 200 */
  maxEventNameLength: positiveInt().default(200),
  /** Characters of a channel name, prefix included. @default 164 */
  maxChannelNameLength: positiveInt().default(164),
  /** Channels one `POST /events` may name. @default 100 */
  maxChannelsPerTrigger: positiveInt().default(100),
  /** Events one `POST /batch_events` may carry. @default 10 */
  maxBatchSize: positiveInt().default(10),
  /** User ids a signed-in user may watch; more get error 4302 and are ignored. @default 100 */
  maxWatchlistSize: positiveInt().default(100),
  /** Signed HTTP API requests per second; null is unlimited. Over it: 429. @default null */
  maxHttpRequestsPerSecond: positiveInt().nullable().default(null),
  /** @default [] */
  webhooks: z.array(webhookSchema).default([]),
});

export type AppConfig = z.infer<typeof appSchema>;

export const DEFAULT_APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' } as const;

const wampSchema = z.strictObject({
  /** WebSocket path of the WAMP router. @default "/ws" */
  path: z.string().startsWith('/').default('/ws'),
  /** @default [{ name: "realm1" }] */
  realms: z.array(z.record(z.string(), z.unknown())).default([{ name: 'realm1' }]),
  /** @default {} */
  auth: z.record(z.string(), z.unknown()).default({}),
});

export const configSchema = z
  .strictObject({
    /** @default "0.0.0.0" */
    host: z.string().min(1).default('0.0.0.0'),
    /** 0 picks a free port. @default 6001 */
    port: z.number().int().min(0).max(65535).default(6001),
    /** Prefix before `/app/{key}` (pusher-js `wsPath`). @default "" */
    pathPrefix: z
      .string()
      .regex(/^(\/[^/]+)*$/, 'must be empty or start with "/" and not end with "/"')
      .default(''),
    /** debug, info, warn, error, silent. @default "info" */
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    /** Written at start, removed at stop. @default none */
    pidFile: z.string().min(1).optional(),
    /** `activity_timeout` announced to clients; also when the server pings a silent client. @default 120 */
    activityTimeoutSeconds: positiveInt().default(120),
    /** How long a pinged client has to answer before it is closed with 4201. @default 30 */
    pongTimeoutSeconds: positiveInt().default(30),
    /**
     * Largest WebSocket message a client may send; larger messages get `pusher:error` and are dropped.
     * @default 65536
     */
    maxMessageBytes: positiveInt().default(65_536),
    /** Bytes a connection may have waiting to be sent; past it the client is closed with 4100. @default 4194304 */
    maxBufferedBytes: positiveInt().default(4 * 1024 * 1024),
    /** Largest HTTP API request body (413 above). @default 1048576 */
    maxRequestBodyBytes: positiveInt().default(1024 * 1024),
    /** Accepted clock skew of signed HTTP requests. @default 600 */
    maxTimestampSkewSeconds: positiveInt().default(600),
    /** How long shutdown waits for clients to go. @default 5000 */
    shutdownTimeoutMs: positiveInt().default(5_000),
    /** @default [{ id: "app-id", key: "app-key", secret: "app-secret" }] */
    apps: z
      .array(appSchema)
      .min(1)
      .default([appSchema.parse(DEFAULT_APP)]),
    adapter: z
      .strictObject({
        /** @default "memory" */
        driver: z.enum(['memory', 'redis', 'nats']).default('memory'),
        /** Broker URL for redis or nats. @default none */
        url: z.string().optional(),
      })
      .default({ driver: 'memory' }),
    wamp: wampSchema.default(wampSchema.parse({})),
  })
  .superRefine(
    (config, ctx) => {
      // Runs even when other fields failed, so that every problem is reported at once; anything
      // here may therefore still be unparsed input.
      const seen = { id: new Map<unknown, number>(), key: new Map<unknown, number>() };
      const apps: unknown[] = Array.isArray(config.apps) ? config.apps : [];
      apps.forEach((app, i) => {
        if (app === null || typeof app !== 'object') return;
        for (const field of ['id', 'key'] as const) {
          const value = (app as Record<string, unknown>)[field];
          if (typeof value !== 'string') continue;
          const first = seen[field].get(value);
          if (first !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['apps', i, field],
              message: `duplicate app ${field} "${value}" (also apps.${first}.${field})`,
            });
          } else {
            seen[field].set(value, i);
          }
        }
      });
      const adapter: { driver?: unknown; url?: unknown } =
        config.adapter !== null && typeof config.adapter === 'object' ? config.adapter : {};
      if ((adapter.driver === 'redis' || adapter.driver === 'nats') && !adapter.url) {
        ctx.addIssue({
          code: 'custom',
          path: ['adapter', 'url'],
          message: `required when adapter.driver is "${adapter.driver}"`,
        });
      }
    },
    { when: (payload) => payload.value !== null && typeof payload.value === 'object' },
  );

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
