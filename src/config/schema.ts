import { z } from 'zod';
import { parseClusterUrl, parseSentinelUrl, RedisUrlError } from '../adapters/redis/url.js';
import { isAddressOrRange } from '../core/client-address.js';
import { originEntryProblem } from '../core/origin.js';

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

/** `allowedOrigins` entries (the forms `core/origin.ts` describes). @default ["*"] (every origin) */
const allowedOrigins = () =>
  z
    .array(
      z.string().superRefine((entry, ctx) => {
        const problem = originEntryProblem(entry);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    )
    .default(['*']);

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
  /**
   * Pages whose `Origin` may connect: `*`, hosts (`example.com`, `*.example.com`, as Laravel Reverb's
   * `allowed_origins`) or origins (`https://example.com:8443`). Others get 4009 before the handshake.
   * @default ["*"]
   */
  allowedOrigins: allowedOrigins(),
  /** Refuse (4009) connections without an `Origin` header, i.e. clients other than browsers. @default false */
  requireOrigin: z.boolean().default(false),
  /** Allow `client-` events on private and presence channels. @default false (as Pusher) */
  clientEvents: z.boolean().default(false),
  /** Send `pusher_internal:subscription_count` to subscribers when a channel's count changes. @default false */
  subscriptionCount: z.boolean().default(false),
  /** Send watchlist online/offline events to signed-in users (spec §5.4). @default false */
  watchlistEvents: z.boolean().default(false),
  /** How long a cache channel keeps its last event. @default 1800 */
  cacheTtlSeconds: positiveInt().default(1800),
  /**
   * Close connections that neither sign in nor subscribe to a private or presence channel within
   * `userAuthenticationTimeoutMs` (4009). @default false
   */
  userAuthentication: z.boolean().default(false),
  /** @default 30000 */
  userAuthenticationTimeoutMs: positiveInt().default(30_000),
  /** Concurrent connections; null is unlimited. Over it: close 4004. @default null */
  maxConnections: positiveInt().nullable().default(null),
  /**
   * Channels one connection may be subscribed to at once; null for no limit. Over it:
   * `pusher:subscription_error` 429 and `pusher:error` 4303, the socket stays open. @default 1000
   */
  maxSubscriptionsPerConnection: positiveInt().nullable().default(1000),
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
  /**
   * Signed HTTP API requests per second; null is unlimited. Over it: 429. In a cluster each node allows
   * its share (this divided by the live nodes, rounded up). @default null
   */
  maxHttpRequestsPerSecond: positiveInt().nullable().default(null),
  /** @default [] */
  webhooks: z.array(webhookSchema).default([]),
  /** Several events within `webhooks.batchWindowMs` share one request per URL (spec §7). @default false */
  batchWebhooks: z.boolean().default(false),
});

export type AppConfig = z.infer<typeof appSchema>;

export const DEFAULT_APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' } as const;

/** Delivery of every app's webhooks (spec §7). */
export const webhooksSchema = z.strictObject({
  /** How long `channel_vacated` and `member_removed` wait; a comeback within it cancels both. @default 3000 */
  vacateDelayMs: z.number().int().min(0).default(3_000),
  /** A receiver must answer 2xx within this; otherwise the request is retried. @default 4000 */
  timeoutMs: positiveInt().default(4_000),
  /** How long a failing request is retried, counted from when it was queued; then it is dropped. @default 300000 */
  retryForMs: z.number().int().min(0).default(300_000),
  /** Wait before the first retry; doubled at each further one, with jitter. @default 1000 */
  retryBaseDelayMs: positiveInt().default(1_000),
  /** Longest wait between two attempts. @default 60000 */
  retryMaxDelayMs: positiveInt().default(60_000),
  /** With `batchWebhooks`, how long a request collects events before it is sent. @default 50 */
  batchWindowMs: z.number().int().min(0).default(50),
  /** With `batchWebhooks`, the most events in one request. @default 50 */
  maxBatchEvents: positiveInt().default(50),
  /** Requests in flight at once per app and URL. @default 4 */
  concurrency: positiveInt().default(4),
  /** Requests waiting per app and URL; more are dropped and counted. @default 10000 */
  maxQueued: positiveInt().default(10_000),
  /** A channel's `cache_miss` is sent at most once per this interval. @default 5000 */
  cacheMissIntervalMs: z.number().int().min(0).default(5_000),
  /** How long shutdown waits for queued webhooks to be delivered. @default 5000 */
  flushTimeoutMs: z.number().int().min(0).default(5_000),
});

export type WebhooksConfig = z.infer<typeof webhooksSchema>;

const wampRoleName = () => z.string().min(1);

export const wampPermissionSchema = z.strictObject({
  /**
   * The URI, prefix or pattern the rule covers. Without `match`, Crossbar's starred form applies:
   * no `*` is exact, one trailing `*` a prefix (`com.app.*`), other `*`s a wildcard.
   */
  uri: z.string(),
  /** exact, prefix or wildcard. @default from the stars in `uri` */
  match: z.enum(['exact', 'prefix', 'wildcard']).optional(),
  /** Actions allowed on matching URIs; a missing action is denied. @default all false */
  allow: z
    .strictObject({
      call: z.boolean().default(false),
      register: z.boolean().default(false),
      publish: z.boolean().default(false),
      subscribe: z.boolean().default(false),
    })
    .default({ call: false, register: false, publish: false, subscribe: false }),
  /** Always disclose the caller to callees / the publisher to subscribers. @default both false */
  disclose: z
    .strictObject({ caller: z.boolean().default(false), publisher: z.boolean().default(false) })
    .default({ caller: false, publisher: false }),
});

export const wampRoleSchema = z.strictObject({
  name: wampRoleName(),
  /** @default [] (deny everything) */
  permissions: z.array(wampPermissionSchema).default([]),
});

/** The role a realm without `roles` has, as `crossbar init` writes it: anonymous may do anything. */
export const WAMP_DEFAULT_ROLES = [
  {
    name: 'anonymous',
    permissions: [
      {
        uri: '',
        match: 'prefix' as const,
        allow: { call: true, register: true, publish: true, subscribe: true },
        disclose: { caller: false, publisher: false },
      },
    ],
  },
];

export const wampRealmSchema = z.strictObject({
  /** Crossbar's rule for realm names. */
  name: z.string().regex(/^[A-Za-z][A-Za-z\d_\-@.]{2,254}$/, 'must match ^[A-Za-z][A-Za-z\\d_\\-@.]{2,254}$'),
  /** @default one role "anonymous" allowed everything */
  roles: z.array(wampRoleSchema).default(WAMP_DEFAULT_ROLES),
  /** URI syntax for requests: loose (spec) or strict (`[0-9a-z_]` components). @default "loose" */
  uriCheck: z.enum(['loose', 'strict']).default('loose'),
  /**
   * Pages whose `Origin` may join, in the forms of an app's `allowedOrigins`; HELLO from others gets
   * ABORT `wamp.error.not_authorized`. @default ["*"]
   */
  allowedOrigins: allowedOrigins(),
  /** Refuse HELLO on connections without an `Origin` header. @default false */
  requireOrigin: z.boolean().default(false),
  /**
   * Topics whose last event is retained (`retain: true`); past it, the topic retained longest ago is
   * forgotten. @default 10000
   */
  maxRetainedTopics: positiveInt().default(10_000),
  /**
   * Bytes of retained events (their payloads as they arrived, and topics) the realm keeps; past it, the
   * topics retained longest ago are forgotten. @default 67108864
   */
  maxRetainedBytes: positiveInt().default(64 * 1024 * 1024),
  /**
   * Largest event that is retained; a larger one is delivered but not retained, and its topic then has
   * none. @default 65536
   */
  maxRetainedEventBytes: positiveInt().default(64 * 1024),
  /**
   * Subscriptions one session may hold; the next SUBSCRIBE gets ERROR `herald.error.limit_exceeded`.
   * null is unlimited. @default 1000
   */
  maxSubscriptionsPerSession: positiveInt().nullable().default(1000),
  /**
   * Registrations one session may hold; the next REGISTER gets ERROR `herald.error.limit_exceeded`.
   * null is unlimited. @default 1000
   */
  maxRegistrationsPerSession: positiveInt().nullable().default(1000),
  /**
   * Testaments one session may hold (both scopes); the next `wamp.session.add_testament` gets ERROR
   * `herald.error.limit_exceeded`. @default 10
   */
  maxTestamentsPerSession: positiveInt().default(10),
  /** Bytes of testaments (payloads as JSON, and topics) one session may hold. @default 65536 */
  maxTestamentBytes: positiveInt().default(64 * 1024),
});

const wampAuthSchema = z.strictObject({
  /** Sessions that offer no credentials join with this role. Off unless listed. */
  anonymous: z.strictObject({ role: wampRoleName().default('anonymous') }).optional(),
  ticket: z
    .strictObject({
      principals: z.record(z.string(), z.strictObject({ ticket: z.string().min(1), role: wampRoleName() })),
    })
    .optional(),
  wampcra: z
    .strictObject({
      users: z.record(
        z.string(),
        z.strictObject({
          secret: z.string().min(1),
          role: wampRoleName(),
          /** Salted WAMP-CRA: `secret` is the password, derived with PBKDF2-HMAC-SHA256. */
          salt: z.string().min(1).optional(),
          /** @default 1000 */
          iterations: positiveInt().optional(),
          /** @default 32 */
          keylen: positiveInt().optional(),
        }),
      ),
    })
    .optional(),
  cryptosign: z
    .strictObject({
      principals: z.record(
        z.string(),
        z.strictObject({
          authorized_keys: z.array(z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits')).min(1),
          role: wampRoleName(),
        }),
      ),
    })
    .optional(),
});

const wampSchema = z
  .strictObject({
    /** WebSocket path of the WAMP router. @default "/ws" */
    path: z.string().startsWith('/').default('/ws'),
    /** @default [{ name: "realm1" }] */
    realms: z
      .array(wampRealmSchema)
      .min(1)
      .default([wampRealmSchema.parse({ name: 'realm1' })]),
    /** Authentication methods; only those listed are offered. @default { anonymous: { role: "anonymous" } } */
    auth: wampAuthSchema.default({ anonymous: { role: 'anonymous' } }),
    /** Largest WAMP message a client may send; larger ones abort the session. @default 1048576 */
    maxMessageBytes: positiveInt().default(1024 * 1024),
    /**
     * How long a CANCEL with mode "kill" waits for the callee before the caller gets `canceled`; at most
     * 2^31 − 1, the longest a Node.js timer waits. @default 10000
     */
    killTimeoutMs: positiveInt()
      .max(2 ** 31 - 1)
      .default(10_000),
    /**
     * How long a WAMP connection may take from its upgrade to WELCOME (HELLO, and AUTHENTICATE when
     * challenged); past it, ABORT `wamp.error.timeout` and the connection is closed. @default 10000
     */
    helloTimeoutMs: positiveInt()
      .max(2 ** 31 - 1)
      .default(10_000),
  })
  .superRefine((wamp, ctx) => {
    const realms = new Set<string>();
    wamp.realms.forEach((realm, i) => {
      if (realms.has(realm.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['realms', i, 'name'],
          message: `duplicate realm "${realm.name}"`,
        });
      }
      realms.add(realm.name);
    });
    const roles = new Set(wamp.realms.flatMap((r) => r.roles.map((role) => role.name)));
    const principals: [string[], string][] = [
      ...(wamp.auth.anonymous
        ? [[['anonymous', 'role'], wamp.auth.anonymous.role] as [string[], string]]
        : []),
      ...Object.entries(wamp.auth.ticket?.principals ?? {}).map(
        ([id, p]) => [['ticket', 'principals', id, 'role'], p.role] as [string[], string],
      ),
      ...Object.entries(wamp.auth.wampcra?.users ?? {}).map(
        ([id, p]) => [['wampcra', 'users', id, 'role'], p.role] as [string[], string],
      ),
      ...Object.entries(wamp.auth.cryptosign?.principals ?? {}).map(
        ([id, p]) => [['cryptosign', 'principals', id, 'role'], p.role] as [string[], string],
      ),
    ];
    for (const [path, role] of principals) {
      if (!roles.has(role)) {
        ctx.addIssue({
          code: 'custom',
          path: ['auth', ...path],
          message: `role "${role}" is in no realm's roles`,
        });
      }
    }
  });

/** What every driver shares: the cluster's prefix and timings. */
const adapterCommon = {
  /** Prefix of the broker topics and keys; nodes sharing it form one cluster. @default "herald" */
  prefix: z.string().min(1).default('herald'),
  /** How often a node tells the others it is alive. @default 1000 */
  heartbeatMs: positiveInt().default(1000),
  /**
   * A node silent this long is declared dead; its presence entries are removed. A node whose broker
   * connection is gone (a crashed process) is declared dead after about three heartbeats instead.
   * @default 5000
   */
  nodeTimeoutMs: positiveInt().default(5000),
  /** How long a question to the other nodes (counts, lists) waits for answers. @default 2000 */
  requestTimeoutMs: positiveInt().default(2000),
};

const DRIVERS = ['memory', 'redis', 'nats'] as const;

/** Broker URL for redis or nats: required there, so that the type says it is there. @default none */
const brokerUrl = (driver: string) =>
  z
    .string({
      error: (issue) =>
        issue.input === undefined ? `required when adapter.driver is "${driver}"` : undefined,
    })
    .min(1, `required when adapter.driver is "${driver}"`);

/**
 * The cluster adapter, one shape per `driver` (absent: "memory"). A memory node keeps an optional
 * `url` unused, as before; redis and nats require one.
 */
const adapterSchema = z.discriminatedUnion(
  'driver',
  [
    z.strictObject({
      /** @default "memory" */
      driver: z.enum(['memory']).default('memory'),
      /** Broker URL for redis or nats; a memory node leaves it unused. @default none */
      url: z.string().optional(),
      ...adapterCommon,
    }),
    z.strictObject({ driver: z.enum(['redis']), url: brokerUrl('redis'), ...adapterCommon }),
    z.strictObject({ driver: z.enum(['nats']), url: brokerUrl('nats'), ...adapterCommon }),
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `Invalid option: expected one of ${DRIVERS.map((d) => `"${d}"`).join('|')}`
        : undefined,
  },
);

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
    /**
     * Processes serving the port, each a node of the cluster: more than one needs a cluster adapter.
     * @default 1
     */
    workers: positiveInt().default(1),
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
    /**
     * Open WebSocket connections on this node, both protocols; null for no limit. Over it: HTTP 503
     * before the upgrade. @default null
     */
    maxConnections: positiveInt().nullable().default(null),
    /**
     * Open WebSocket connections from one client address; null for no limit (offices and mobile
     * carriers put many users behind one address). Over it: HTTP 429 before the upgrade. @default null
     */
    maxConnectionsPerAddress: positiveInt().nullable().default(null),
    /**
     * New WebSocket connections per second from one client address (a token bucket); null for no
     * limit. Over it: HTTP 429 before the upgrade. @default { perSecond: 100, burst: 500 }
     */
    connectionRatePerAddress: z
      .strictObject({
        /** Average rate. @default 100 */
        perSecond: positiveInt().default(100),
        /** Connections at once before the rate applies. @default 500 */
        burst: positiveInt().default(500),
      })
      .nullable()
      .default({ perSecond: 100, burst: 500 }),
    /**
     * Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client, for the
     * limits per address. @default []
     */
    trustedProxies: z
      .array(z.string().refine(isAddressOrRange, 'must be an IP address or a CIDR range'))
      .default([]),
    /**
     * Resident memory, in MiB, above which new connections (HTTP 503 before the upgrade) and
     * subscriptions (429) are refused and `/ready` answers 503, until memory is back under 90 % of it;
     * null for no ceiling. Set it to about 80 % of the container's memory. @default null
     */
    maxMemoryMB: positiveInt().nullable().default(null),
    /** @default [{ id: "app-id", key: "app-key", secret: "app-secret" }] */
    apps: z
      .array(appSchema)
      .min(1)
      .default([appSchema.parse(DEFAULT_APP)]),
    adapter: adapterSchema.prefault({}),
    webhooks: webhooksSchema.default(webhooksSchema.parse({})),
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
      if (
        typeof config.workers === 'number' &&
        config.workers > 1 &&
        adapter.driver !== 'redis' &&
        adapter.driver !== 'nats'
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['workers'],
          message:
            'more than one worker needs adapter.driver "redis" or "nats" (--redis-url, --nats-url): the workers share presence, counts and events through it',
        });
      }
      if (adapter.driver === 'redis' && typeof adapter.url === 'string' && adapter.url) {
        const problem = redisUrlProblem(adapter.url);
        if (problem) ctx.addIssue({ code: 'custom', path: ['adapter', 'url'], message: problem });
      }
    },
    { when: (payload) => payload.value !== null && typeof payload.value === 'object' },
  );

/** Why Herald cannot use `url` for Redis; undefined when it can. */
function redisUrlProblem(url: string): string | undefined {
  if (!/^(redis|rediss|redis\+sentinel|redis\+cluster):\/\//.test(url)) {
    return `"${url}" is not a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL`;
  }
  try {
    parseSentinelUrl(url);
    parseClusterUrl(url);
  } catch (err) {
    if (err instanceof RedisUrlError) return err.message;
    throw err;
  }
  return undefined;
}

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
