import { z } from 'zod';
import { parseClusterUrl, parseSentinelUrl, RedisUrlError } from '../adapters/redis/url.js';
import { isAddressOrRange } from '../core/client-address.js';
import { MAX_HISTORY_LIMIT } from '../core/history/store.js';
import { originEntryProblem } from '../core/origin.js';
import { isPasswordHash } from '../dashboard/auth.js';
import { isReserved, isValidUri } from '../protocol/wamp/uri.js';

/**
 * The single source of truth for configuration: types, defaults, validation, documentation (each
 * setting's `.describe()`, which `reference.ts` turns into `docs/configuration.md`) and, through
 * `envEntries`, environment-variable names. Every default is written next to its field, and nowhere
 * else.
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

/** `allowedOrigins` entries, in the forms `core/origin.ts` describes. */
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
  url: z.url({ protocol: /^https?$/ }).describe('Where the events are POSTed (`http` or `https`).'),
  events: z
    .array(z.enum(WEBHOOK_EVENTS))
    .default([...WEBHOOK_EVENTS])
    .describe('Which event types this URL gets.'),
  headers: z
    .record(z.string(), z.string())
    .default({})
    .describe(
      'Extra request headers; they cannot replace `Content-Type`, `X-Pusher-Key` or `X-Pusher-Signature`.',
    ),
  filter: z
    .strictObject({
      channelPrefix: z.string().describe('Only events of channels whose name starts with this prefix.'),
    })
    .optional()
    .describe('Which channels this URL hears about; every channel without it.'),
});

/** What a history pattern may hold: the characters of channel names (`#` of user channels included) and `*`. */
const HISTORY_PATTERN = /^[A-Za-z0-9_\-=@,.;#*]+$/;

/** One rule of `history.streams`: which channels it covers and how much each of their streams keeps. */
export const historyStreamSchema = z.strictObject({
  channels: z
    .array(
      z
        .string()
        .min(1)
        .max(200)
        .regex(HISTORY_PATTERN, 'must be a channel name, where `*` stands for any characters'),
    )
    .min(1)
    .max(100)
    .describe(
      'Channel names, where `*` stands for any characters (`"orders-*"`, `"private-chat-*"`, `"news"`, `"*"`).',
    ),
  maxEvents: positiveInt()
    .max(100_000)
    .default(100)
    .describe("Events one channel's stream keeps; past it the oldest is dropped."),
  ttlSeconds: positiveInt()
    .max(7 * 24 * 3600)
    .default(300)
    .describe('How long an event is kept.'),
});

/** An app's message history and recovery across reconnects (docs/recovery.md). */
export const historySchema = z.strictObject({
  streams: z
    .array(historyStreamSchema)
    .min(1)
    .max(20)
    .describe(
      'Which channels keep a stream of their events, each rule with its bounds; the first rule whose ' +
        '`channels` match a channel applies.',
    ),
  resumeTtlSeconds: positiveInt()
    .max(24 * 3600)
    .default(120)
    .describe(
      'How long a closed connection can be resumed: its resume token, and what each channel sent it, ' +
        'are kept this long after it closed.',
    ),
});

export type HistoryConfig = z.infer<typeof historySchema>;
export type HistoryStreamConfig = z.infer<typeof historyStreamSchema>;

export const appSchema = z.strictObject({
  id: z.string().min(1).max(255).describe('The app id, used in HTTP API paths (`/apps/{id}/events`).'),
  key: z.string().min(1).max(255).describe('The app key, which clients connect with (`/app/{key}`).'),
  secret: z
    .string()
    .min(1)
    .max(255)
    .describe('Signs HTTP API requests, channel authorizations, user sign-ins and webhooks.'),
  previousSecret: z
    .string()
    .min(1)
    .max(255)
    .nullable()
    .default(null)
    .describe(
      'The secret before the last rotation, still accepted for HTTP API requests, channel ' +
        'authorizations and user sign-ins until `previousSecretExpiresAt` (`herald apps rotate-secret` sets both).',
    ),
  previousSecretExpiresAt: z.iso
    .datetime({ offset: true })
    .nullable()
    .default(null)
    .describe('When `previousSecret` stops being accepted (ISO 8601, e.g. `"2026-12-07T18:00:00Z"`).'),
  enabled: z
    .boolean()
    .default(true)
    .describe('A disabled app refuses connections (4003) and HTTP requests (403).'),
  allowedOrigins: allowedOrigins().describe(
    'Pages whose `Origin` may connect: `"*"`, hosts (`"example.com"`, `"*.example.com"`, as Laravel ' +
      'Reverb\'s `allowed_origins`) or origins (`"https://example.com:8443"`); see the README, ' +
      'Configuration. Other origins are refused with 4009 before the handshake.',
  ),
  requireOrigin: z
    .boolean()
    .default(false)
    .describe('Also refuse (4009) connections that send no `Origin` header, i.e. every client but browsers.'),
  clientEvents: z
    .boolean()
    .default(false)
    .describe('Allow `client-` events on private and presence channels (off by default, as on Pusher).'),
  subscriptionCount: z
    .boolean()
    .default(false)
    .describe(
      'Send `pusher_internal:subscription_count` to subscribers of non-presence channels when the count changes.',
    ),
  watchlistEvents: z
    .boolean()
    .default(false)
    .describe('Send watchlist `online`/`offline` events to signed-in users.'),
  cacheTtlSeconds: positiveInt().default(1800).describe('How long a cache channel keeps its last event.'),
  userAuthentication: z
    .boolean()
    .default(false)
    .describe(
      'Close (4009) connections that neither sign in nor subscribe to a private or presence channel ' +
        'within `userAuthenticationTimeoutMs`.',
    ),
  userAuthenticationTimeoutMs: positiveInt()
    .default(30_000)
    .describe('How long a connection has to sign in, with `userAuthentication`.'),
  maxConnections: positiveInt()
    .nullable()
    .default(null)
    .describe('Concurrent connections to this app; `null` for no limit. One more is closed with 4004.'),
  maxSubscriptionsPerConnection: positiveInt()
    .nullable()
    .default(1000)
    .describe(
      'Channels one connection may be subscribed to at once; `null` for no limit. More get ' +
        '`pusher:subscription_error` 429 and `pusher:error` 4303, and the socket stays open.',
    ),
  maxPresenceMembers: positiveInt().default(100).describe('Distinct users per presence channel.'),
  maxPresenceUserInfoBytes: positiveInt()
    .default(1024)
    .describe("Bytes of a presence member's `user_info` JSON."),
  maxPresenceUserIdLength: positiveInt().default(128).describe('Characters of a presence `user_id`.'),
  maxClientEventsPerSecond: positiveInt()
    .default(10)
    .describe('Client events per connection per second; the next one gets error 4301.'),
  maxEventPayloadBytes: positiveInt()
    .default(10_240)
    .describe("Bytes of an event's `data` (HTTP 413 above it)."),
  maxEventNameLength: positiveInt().default(200).describe('Characters of an event name.'),
  maxChannelNameLength: positiveInt().default(164).describe('Characters of a channel name, prefix included.'),
  maxChannelsPerTrigger: positiveInt().default(100).describe('Channels one `POST /events` may name.'),
  maxBatchSize: positiveInt().default(10).describe('Events one `POST /batch_events` may carry.'),
  maxWatchlistSize: positiveInt()
    .default(100)
    .describe('User ids one signed-in user may watch; more get error 4302 and are ignored.'),
  maxHttpRequestsPerSecond: positiveInt()
    .nullable()
    .default(null)
    .describe(
      'Signed HTTP API requests per second to this app; `null` for no limit. More get 429. In a cluster ' +
        'each node allows its share (this divided by the live nodes, rounded up).',
    ),
  webhooks: z
    .array(webhookSchema)
    .default([])
    .describe("Where this app's webhooks go; see the README, Webhooks."),
  batchWebhooks: z
    .boolean()
    .default(false)
    .describe(
      'Events within `webhooks.batchWindowMs` share one request per URL (otherwise one event per request).',
    ),
  history: historySchema
    .nullable()
    .default(null)
    .describe(
      'Streams of the events of some channels, for clients that reconnect to get what they missed and ' +
        'for `GET /apps/{id}/channels/{name}/events`; `null` for none (see docs/recovery.md).',
    ),
});

export type AppConfig = z.infer<typeof appSchema>;

const APP_STORE_DRIVERS = ['config', 'postgres', 'mysql'] as const;
const APP_STORE_DRIVER_TEXT =
  '`config`: the `apps` of this configuration; `postgres` or `mysql` (MySQL and MariaDB): a table, ' +
  'managed with `herald apps` (see docs/apps.md).';

/** Settings of the database stores, each written once. */
const databaseStore = {
  url: z
    .string()
    .min(1)
    .describe(
      'Database URL: `postgres://user:password@host:5432/db` or `mysql://user:password@host:3306/db`.',
    ),
  table: z
    .string()
    .regex(
      /^[A-Za-z_][A-Za-z0-9_]{0,62}$/,
      'must be a plain SQL name: letters, digits and _, not starting with a digit',
    )
    .default('herald_apps')
    .describe('The table of apps; `herald apps migrate` creates it.'),
  cacheTtlMs: positiveInt()
    .default(60_000)
    .describe(
      'How long a node keeps an app it looked up; changes made elsewhere than through Herald or a ' +
        'PostgreSQL trigger take effect within this.',
    ),
  missTtlMs: positiveInt()
    .default(10_000)
    .describe('How long a node remembers that a key or id names no app.'),
  lookupsPerSecond: positiveInt()
    .default(1000)
    .describe(
      'Lookups of apps not in the cache one node sends the database per second (a burst of twice ' +
        'this at once); more are refused as unavailable (4100, HTTP 503), so a flood of unknown keys ' +
        'cannot load the database.',
    ),
  poolSize: positiveInt().default(4).describe('Database connections one node keeps open at most.'),
  preload: z
    .number()
    .int()
    .min(0)
    .default(10_000)
    .describe(
      'A node that starts loads every app into its cache in one query when the table holds at most ' +
        'this many (`0`: never), so that the first connections of each app (a restart, a reconnect ' +
        'storm) cost no lookup; with more, each app is looked up on first use.',
    ),
};

const appStoreSchema = z.discriminatedUnion(
  'driver',
  [
    z.strictObject({
      driver: z.enum(['config']).default('config').describe(APP_STORE_DRIVER_TEXT),
    }),
    z.strictObject({ driver: z.enum(['postgres']).describe(APP_STORE_DRIVER_TEXT), ...databaseStore }),
    z.strictObject({ driver: z.enum(['mysql']).describe(APP_STORE_DRIVER_TEXT), ...databaseStore }),
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `Invalid option: expected one of ${APP_STORE_DRIVERS.map((d) => `"${d}"`).join('|')}`
        : undefined,
  },
);

export type AppStoreConfig = z.infer<typeof appStoreSchema>;
export type DatabaseStoreConfig = Exclude<AppStoreConfig, { driver: 'config' }>;

/** The app served when none is configured; `loadConfig` completes it with `HERALD_APP_*` and the flags. */
export const DEFAULT_APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' } as const;

/** Delivery of every app's webhooks (the README's Webhooks section). */
export const webhooksSchema = z.strictObject({
  vacateDelayMs: z
    .number()
    .int()
    .min(0)
    .default(3_000)
    .describe(
      'How long `channel_vacated` and `member_removed` wait; a comeback within it cancels both and the re-add.',
    ),
  timeoutMs: positiveInt()
    .default(4_000)
    .describe('A receiver must answer 2xx within this; otherwise the request is retried.'),
  retryForMs: z
    .number()
    .int()
    .min(0)
    .default(300_000)
    .describe(
      'How long a failing request is retried, counted from when it was queued; then it is dropped and logged.',
    ),
  retryBaseDelayMs: positiveInt()
    .default(1_000)
    .describe('Wait before the first retry (drawn from its upper half); doubled at each further retry.'),
  retryMaxDelayMs: positiveInt().default(60_000).describe('Longest wait between two attempts.'),
  batchWindowMs: z
    .number()
    .int()
    .min(0)
    .default(50)
    .describe('With `batchWebhooks`, how long a request collects events before it is sent.'),
  maxBatchEvents: positiveInt().default(50).describe('With `batchWebhooks`, the most events in one request.'),
  concurrency: positiveInt().default(4).describe('Requests in flight at once per app and URL.'),
  maxQueued: positiveInt()
    .default(10_000)
    .describe('Requests waiting per app and URL; more are dropped, counted and logged.'),
  cacheMissIntervalMs: z
    .number()
    .int()
    .min(0)
    .default(5_000)
    .describe("A channel's `cache_miss` is sent at most once per this interval."),
  flushTimeoutMs: z
    .number()
    .int()
    .min(0)
    .default(5_000)
    .describe('How long shutdown waits for queued webhooks to be delivered.'),
});

export type WebhooksConfig = z.infer<typeof webhooksSchema>;

const wampRoleName = () => z.string().min(1);

export const wampPermissionSchema = z.strictObject({
  uri: z
    .string()
    .describe(
      "The URI, prefix or pattern the rule covers. Without `match`, Crossbar's starred form applies: " +
        'no `*` is exact, one trailing `*` a prefix (`com.app.*`), other `*`s a wildcard.',
    ),
  match: z
    .enum(['exact', 'prefix', 'wildcard'])
    .optional()
    .describe('How `uri` is compared; without it, from the stars in `uri`.'),
  allow: z
    .strictObject({
      call: z.boolean().default(false).describe('Allow CALL of matching procedures.'),
      register: z.boolean().default(false).describe('Allow REGISTER of matching procedures.'),
      publish: z.boolean().default(false).describe('Allow PUBLISH to matching topics.'),
      subscribe: z.boolean().default(false).describe('Allow SUBSCRIBE to matching topics.'),
    })
    .prefault({})
    .describe('Actions allowed on matching URIs; a missing action is denied.'),
  disclose: z
    .strictObject({
      caller: z.boolean().default(false).describe('Always disclose the caller to callees.'),
      publisher: z.boolean().default(false).describe('Always disclose the publisher to subscribers.'),
    })
    .prefault({})
    .describe('Disclosure without the client asking for it.'),
  cache: z
    .boolean()
    .optional()
    .describe(
      "Crossbar's spelling, accepted and ignored: Crossbar caches what a dynamic authorizer decided, and " +
        'static rules need no cache.',
    ),
});

export const wampRoleSchema = z.strictObject({
  name: wampRoleName().describe("The role's name, as principals and `authrole` name it."),
  permissions: z
    .array(wampPermissionSchema)
    .default([])
    .describe('Permission rules; a URI no rule covers is denied (see the README, Authorization).'),
});

/** The most events a realm's event history rules may keep in all. */
export const MAX_HISTORY_EVENTS_PER_REALM = 10_000;
/** The most bytes a realm's event history may hold: its rules' limits times `maxHistoryEventBytes`. */
export const MAX_HISTORY_BYTES_PER_REALM = 256 * 1024 * 1024;

export const wampHistoryRuleSchema = z.strictObject({
  uri: z
    .string()
    .min(1)
    .describe(
      'The topic, prefix or pattern whose events are kept, as a subscription with `match` names it; not `wamp.*`.',
    ),
  match: z
    .enum(['exact', 'prefix', 'wildcard'])
    .default('exact')
    .describe('How `uri` is compared, as `SUBSCRIBE.Options.match`.'),
  limit: positiveInt()
    .max(MAX_HISTORY_LIMIT)
    .default(100)
    .describe(`How many of the newest events are kept, at most ${MAX_HISTORY_LIMIT}.`),
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

export const wampRealmSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z][A-Za-z\d_\-@.]{2,254}$/, 'must match ^[A-Za-z][A-Za-z\\d_\\-@.]{2,254}$')
      .describe("The realm's name, by Crossbar's rule `^[A-Za-z][A-Za-z\\d_\\-@.]{2,254}$`."),
    roles: z
      .array(wampRoleSchema)
      .default(WAMP_DEFAULT_ROLES)
      .describe('The roles sessions of this realm may have; by default `anonymous`, allowed everything.'),
    uriCheck: z
      .enum(['loose', 'strict'])
      .default('loose')
      .describe(
        'URI syntax for requests: `loose` accepts any component without whitespace, `.` or `#` (the WAMP ' +
          "spec's rule), `strict` only components of `[0-9a-z_]` (Crossbar's default).",
      ),
    allowedOrigins: allowedOrigins().describe(
      "Pages whose `Origin` may join, in the forms of an app's `allowedOrigins`; HELLO from others gets " +
        'ABORT `wamp.error.not_authorized`.',
    ),
    requireOrigin: z
      .boolean()
      .default(false)
      .describe('Refuse HELLO on connections without an `Origin` header.'),
    maxRetainedTopics: positiveInt()
      .default(10_000)
      .describe(
        'Topics whose last event is retained (`retain: true`); past it, the topic retained longest ago is forgotten.',
      ),
    maxRetainedBytes: positiveInt()
      .default(64 * 1024 * 1024)
      .describe(
        'Bytes of retained events (their payloads as they arrived, and topics) the realm keeps; past it, ' +
          'the topics retained longest ago are forgotten.',
      ),
    maxRetainedEventBytes: positiveInt()
      .default(64 * 1024)
      .describe(
        'Largest event that is retained; a larger one is delivered but not retained, and its topic then has none.',
      ),
    maxSubscriptionsPerSession: positiveInt()
      .nullable()
      .default(1000)
      .describe(
        'Subscriptions one session may hold; `null` for no limit. The next SUBSCRIBE gets ERROR ' +
          '`herald.error.limit_exceeded`.',
      ),
    maxRegistrationsPerSession: positiveInt()
      .nullable()
      .default(1000)
      .describe(
        'Registrations one session may hold; `null` for no limit. The next REGISTER gets ERROR ' +
          '`herald.error.limit_exceeded`.',
      ),
    maxTestamentsPerSession: positiveInt()
      .default(10)
      .describe(
        'Testaments one session may hold (both scopes); the next `wamp.session.add_testament` gets ERROR ' +
          '`herald.error.limit_exceeded`.',
      ),
    maxTestamentBytes: positiveInt()
      .default(64 * 1024)
      .describe('Bytes of testaments (payloads as JSON, and topics) one session may hold.'),
    eventHistory: z
      .array(wampHistoryRuleSchema)
      .default([])
      .describe(
        "Event history (Crossbar's `store.event-history`): the newest `limit` events of the topics each rule " +
          'matches, read with `wamp.subscription.get_events` by the ID of the subscription to (`uri`, `match`). ' +
          `At most ${MAX_HISTORY_EVENTS_PER_REALM} events in all the rules of a realm.`,
      ),
    maxHistoryEventBytes: positiveInt()
      .default(64 * 1024)
      .describe(
        'Largest event kept in the event history (as stored: payload, topic and details); a larger one is ' +
          `delivered but not kept. The rules' limits times this may be at most ${MAX_HISTORY_BYTES_PER_REALM}.`,
      ),
  })
  .superRefine((realm, ctx) => {
    const seen = new Set<string>();
    let events = 0;
    realm.eventHistory.forEach((rule, i) => {
      const key = `${rule.match}\0${rule.uri}`;
      if (seen.has(key))
        ctx.addIssue({
          code: 'custom',
          path: ['eventHistory', i],
          message: `duplicate rule for "${rule.uri}" (${rule.match})`,
        });
      seen.add(key);
      if (!isValidUri(rule.uri, rule.match, realm.uriCheck) || isReserved(rule.uri))
        ctx.addIssue({
          code: 'custom',
          path: ['eventHistory', i, 'uri'],
          message: `"${rule.uri}" is no topic ${rule.match === 'exact' ? 'URI' : `${rule.match} pattern`} a client may subscribe to`,
        });
      events += rule.limit;
    });
    if (events > MAX_HISTORY_EVENTS_PER_REALM)
      ctx.addIssue({
        code: 'custom',
        path: ['eventHistory'],
        message: `the rules keep ${events} events in all; at most ${MAX_HISTORY_EVENTS_PER_REALM}`,
      });
    else if (events * realm.maxHistoryEventBytes > MAX_HISTORY_BYTES_PER_REALM)
      ctx.addIssue({
        code: 'custom',
        path: ['maxHistoryEventBytes'],
        message:
          `the rules' ${events} events of up to ${realm.maxHistoryEventBytes} bytes could hold more than ` +
          `${MAX_HISTORY_BYTES_PER_REALM} bytes: lower the limits or this`,
      });
  });

/** Principals and users are keyed by the `authid` their HELLO carries. */
const byAuthid = <T extends z.ZodType>(value: T) => z.record(z.string(), value).meta({ keyName: 'authid' });

/** Crossbar's `"type": "static"` on an authentication method; `dynamic` is refused with the reason. */
const staticType = (extra = '') =>
  z
    .literal('static', {
      error:
        'only "static": Herald has no dynamic authenticators; list the principals here (docs/wamp.md, Authentication)',
    })
    .optional()
    .describe(`Crossbar's spelling: \`"static"\`, the only kind Herald has.${extra}`);

export const wampAuthSchema = z.strictObject({
  anonymous: z
    .strictObject({
      type: staticType(),
      role: wampRoleName().default('anonymous').describe('The role anonymous sessions get.'),
    })
    .optional()
    .describe(
      'Anonymous authentication, off unless listed (or `wamp.auth` left out): sessions that offer no ' +
        'credentials join with `role`, under a random authid.',
    ),
  ticket: z
    .strictObject({
      type: staticType(),
      principals: byAuthid(
        z.strictObject({
          ticket: z.string().min(1).describe("The principal's ticket."),
          role: wampRoleName().describe("The principal's role."),
        }),
      ).describe('The principals, by authid.'),
    })
    .optional()
    .describe(
      "Ticket authentication, off unless listed: the client answers the challenge with the principal's ticket, which " +
        'crosses the wire in clear (serve wss://: `tls`, or a proxy that terminates TLS).',
    ),
  wampcra: z
    .strictObject({
      type: staticType(
        " With it, a salted user's `secret` is read as Crossbar reads it: the key already derived from the password.",
      ),
      users: byAuthid(
        z.strictObject({
          secret: z
            .string()
            .min(1)
            .describe(
              "The user's secret; with `salt`, a password (or, with `type` `static`, the key derived from it).",
            ),
          role: wampRoleName().describe("The user's role."),
          salt: z
            .string()
            .min(1)
            .optional()
            .describe(
              'Salted WAMP-CRA: the key is PBKDF2-HMAC-SHA256(`secret`, `salt`, `iterations`, `keylen`), ' +
                "as autobahn's `derive_key` computes it.",
            ),
          iterations: positiveInt().default(1000).describe('PBKDF2 iterations, with `salt`.'),
          keylen: positiveInt().default(32).describe('Bytes of the derived key, with `salt`.'),
        }),
      ).describe('The users, by authid.'),
    })
    .optional()
    .describe(
      'WAMP-CRA authentication, off unless listed: the client answers with the HMAC-SHA256 of a challenge that carries ' +
        'the session ID.',
    ),
  cryptosign: z
    .strictObject({
      type: staticType(),
      principals: byAuthid(
        z.strictObject({
          authorized_keys: z
            .array(z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits'))
            .min(1)
            .describe("The principal's Ed25519 public keys, in hex."),
          role: wampRoleName().describe("The principal's role."),
        }),
      ).describe('The principals, by authid; HELLO names one by its public key.'),
    })
    .optional()
    .describe(
      'WAMP-cryptosign authentication, off unless listed: the client signs a random challenge with an ' +
        'Ed25519 key (TLS channel binding is not supported).',
    ),
});

const wampSchema = z
  .strictObject({
    path: z.string().startsWith('/').default('/ws').describe('WebSocket path of the WAMP router.'),
    realms: z
      .array(wampRealmSchema)
      .min(1)
      .default([wampRealmSchema.parse({ name: 'realm1' })])
      .describe(
        'The realms; HELLO for any other realm gets ABORT `wamp.error.no_such_realm`. By default one, ' +
          '`realm1`, that anonymous clients may use for everything, as after `crossbar init`.',
      ),
    auth: wampAuthSchema
      .prefault({ anonymous: {} })
      .describe(
        'Authentication methods; only those listed are offered, and every role they name must exist in ' +
          'at least one realm. By default only anonymous.',
      ),
    maxMessageBytes: positiveInt()
      .default(16 * 1024 * 1024)
      .describe(
        'Largest WAMP message a client may send over WebSocket; a larger one aborts its session ' +
          '(`payload_size_exceeded`). 16 MiB by default, as RawSocket allows at most, so that what ' +
          'works over one transport works over the other.',
      ),
    rawsocketMaxMessageBytes: positiveInt()
      .max(16 * 1024 * 1024)
      .default(16 * 1024 * 1024)
      .describe(
        'Largest WAMP message a client may send over RawSocket (at most 16 MiB, the largest length ' +
          'its handshake can announce); a larger one aborts its session (`payload_size_exceeded`).',
      ),
    killTimeoutMs: positiveInt()
      .max(2 ** 31 - 1)
      .default(10_000)
      .describe(
        'How long a CANCEL with mode `kill` waits for the callee before the caller gets ' +
          '`wamp.error.canceled`; at most 2147483647, the longest a Node.js timer waits.',
      ),
    helloTimeoutMs: positiveInt()
      .max(2 ** 31 - 1)
      .default(10_000)
      .describe(
        'How long a WAMP connection may take from its upgrade to WELCOME (HELLO, and AUTHENTICATE when ' +
          'challenged); past it, ABORT `wamp.error.timeout` and the connection is closed. A RawSocket ' +
          'connection has as long again for its handshake.',
      ),
    rawsocket: z
      .strictObject({
        host: z.string().min(1).default('0.0.0.0').describe('Listen address of the RawSocket listener.'),
        port: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .describe('Port of the RawSocket listener; `0` picks a free one.'),
      })
      .optional()
      .describe(
        'A listener of its own for WAMP over RawSocket on plain TCP (`tcp://host:port`, docs/wamp.md, ' +
          '"RawSocket"). Without it, RawSocket is still served on the public port, told apart from HTTP by ' +
          'its first byte.',
      ),
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
  prefix: z
    .string()
    .min(1)
    .default('herald')
    .describe('Prefix of the broker topics and keys; nodes sharing it form one cluster.'),
  heartbeatMs: positiveInt().default(1000).describe('How often a node tells the others it is alive.'),
  nodeTimeoutMs: positiveInt()
    .default(5000)
    .describe(
      'A node silent this long is declared dead and its presence members are removed; one whose ' +
        'broker connection is gone (a crashed process) is declared dead after about three heartbeats.',
    ),
  requestTimeoutMs: positiveInt()
    .default(2000)
    .describe('How long a question to the other nodes (counts, lists) waits for answers.'),
};

const DRIVERS = ['memory', 'redis', 'nats'] as const;
const DRIVER_TEXT = '`memory` (one process), `redis` or `nats` (a cluster of nodes; see docs/clustering.md).';

/** Broker URL for redis or nats: required there, so that the type says it is there. @default none */
const brokerUrl = (driver: string) =>
  z
    .string({
      error: (issue) =>
        issue.input === undefined ? `required when adapter.driver is "${driver}"` : undefined,
    })
    .min(1, `required when adapter.driver is "${driver}"`)
    .describe(
      'Broker URL, required for `redis` (`redis://`, `rediss://`, `redis+sentinel://` or ' +
        '`redis+cluster://`) and `nats`.',
    );

/**
 * The cluster adapter, one shape per `driver` (absent: "memory"). A memory node keeps an optional
 * `url` unused, as before; redis and nats require one.
 */
const adapterSchema = z.discriminatedUnion(
  'driver',
  [
    z.strictObject({
      driver: z.enum(['memory']).default('memory').describe(DRIVER_TEXT),
      url: z
        .string()
        .optional()
        .describe(
          'Broker URL, required for `redis` (`redis://`, `rediss://`, `redis+sentinel://` or ' +
            '`redis+cluster://`) and `nats`; a memory node leaves it unused.',
        ),
      ...adapterCommon,
    }),
    z.strictObject({
      driver: z.enum(['redis']).describe(DRIVER_TEXT),
      url: brokerUrl('redis'),
      ...adapterCommon,
    }),
    z.strictObject({
      driver: z.enum(['nats']).describe(DRIVER_TEXT),
      url: brokerUrl('nats'),
      ...adapterCommon,
    }),
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `Invalid option: expected one of ${DRIVERS.map((d) => `"${d}"`).join('|')}`
        : undefined,
  },
);

/** A file named by a TLS setting; what is wrong with it is said at start (see `transport/tls.ts`). */
const tlsFile = (field: string, flag: string) =>
  z
    .string({
      error: (issue) => (issue.input === undefined ? `required with tls (${flag} FILE)` : undefined),
    })
    .min(1, `the path of the ${field} file, not empty`);

/**
 * TLS on the public port: `wss://` and `https://` on the same port, certificates re-read on SIGHUP.
 * The files are read and checked at start, not here (they may change while Herald runs).
 */
const tlsSchema = z.strictObject({
  cert: tlsFile('certificate', '--ssl-cert').describe(
    'PEM file of the server certificate (`--ssl-cert`), optionally followed by the intermediate ' +
      'certificates of its chain.',
  ),
  key: tlsFile('private key', '--ssl-key').describe(
    "PEM file of the certificate's private key (`--ssl-key`).",
  ),
  ca: z
    .string()
    .min(1)
    .optional()
    .describe(
      'PEM file of the intermediate CA certificates that complete the chain of `cert` (`--ssl-ca`); ' +
        'they are sent to clients with it.',
    ),
  passphrase: z
    .string()
    .optional()
    .describe(
      'Passphrase of an encrypted `key` (`--ssl-passphrase`; the environment variable keeps it out of ' +
        'the process list).',
    ),
});

export type TlsConfig = z.infer<typeof tlsSchema>;

/** A second listener for the HTTP API and `/metrics`, on a private address (docs/operations.md, Admin listener). */
const apiSchema = z
  .strictObject({
    host: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('Listen address of the admin listener (`--api-host`).'),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .nullable()
      .default(null)
      .describe(
        'Port of the admin listener (`--api-port`), which serves the HTTP API, `/metrics`, `/health` ' +
          'and `/ready` over plain HTTP; `null` for none, `0` picks a free one.',
      ),
    public: z
      .boolean()
      .default(true)
      .describe(
        'Also serve the HTTP API and `/metrics` on the public port; with `false` they answer 404 there ' +
          'and only the admin listener serves them (`/health` and `/ready` stay on both).',
      ),
    token: z
      .string()
      .min(32, 'at least 32 characters: it guards every app (e.g. `openssl rand -hex 32`)')
      .optional()
      .describe(
        'Bearer token of the app management API (`/herald/apps`, used by `herald apps --api-url`), on ' +
          'the admin listener only; unset, that API is off.',
      ),
  })
  .refine((api) => api.public || api.port !== null, {
    path: ['public'],
    message: 'false needs api.port (--api-port): otherwise no listener serves the HTTP API',
  })
  .refine((api) => api.token === undefined || api.port !== null, {
    path: ['token'],
    message: 'needs api.port (--api-port): the app management API is served on the admin listener only',
  });

export type ApiConfig = z.infer<typeof apiSchema>;

/** A user of the dashboard. */
const dashboardUserSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .describe('The name the user signs in with.'),
  passwordHash: z
    .string()
    .refine(isPasswordHash, {
      message:
        'not a hash `herald dashboard hash-password` makes (scrypt$N$r$p$<salt>$<hash>); run it and paste its output',
    })
    .describe(
      'The scrypt hash of the password, as `herald dashboard hash-password` prints it ' +
        '(`scrypt$16384$8$1$<salt>$<hash>`); never the password itself.',
    ),
});

/** The dashboard at `/dashboard` (docs/dashboard.md). Absent: off, except for the development setup. */
export const dashboardSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Serve the dashboard.'),
    users: z
      .array(dashboardUserSchema)
      .default([])
      .describe('Who may sign in; `enabled` needs at least one.'),
    sessionTtlMs: positiveInt()
      .default(12 * 60 * 60 * 1000)
      .describe('How long a sign-in lasts; the user then signs in again.'),
    sessionSecret: z
      .string()
      .min(32, 'at least 32 characters (e.g. `openssl rand -hex 32`)')
      .optional()
      .describe(
        'Signs the session cookies. Unset, each process draws a random one, so sessions end when it ' +
          'restarts; with `workers` or several nodes, set the same one on every node so that each accepts ' +
          "the others' cookies.",
      ),
  })
  .superRefine((dashboard, ctx) => {
    if (dashboard.enabled && dashboard.users.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['users'],
        message:
          'the dashboard is enabled but no one may sign in: add a user { name, passwordHash } ' +
          '(`herald dashboard hash-password` makes the hash) or set dashboard.enabled false',
      });
    }
    const seen = new Set<string>();
    dashboard.users.forEach((user, i) => {
      if (seen.has(user.name))
        ctx.addIssue({
          code: 'custom',
          path: ['users', i, 'name'],
          message: `duplicate user "${user.name}"`,
        });
      seen.add(user.name);
    });
  });

export type DashboardConfig = z.infer<typeof dashboardSchema>;

export const configSchema = z
  .strictObject({
    host: z.string().min(1).default('0.0.0.0').describe('Listen address.'),
    port: z.number().int().min(0).max(65535).default(6001).describe('Listen port; `0` picks a free one.'),
    tls: tlsSchema
      .optional()
      .describe(
        'Serve `wss://` and `https://` on the port; the files are re-read on SIGHUP (see ' +
          'docs/operations.md, TLS). Without it, plain `ws://` and `http://`.',
      ),
    api: apiSchema
      .prefault({})
      .describe('The admin listener: the HTTP API and `/metrics` on a second, private address.'),
    pathPrefix: z
      .string()
      .regex(/^(\/[^/]+)*$/, 'must be empty or start with "/" and not end with "/"')
      .default('')
      .describe(
        'Prefix before `/app/{key}` (pusher-js `wsPath`), e.g. `"/realtime"`, and before `/apps/{id}/…` of ' +
          'the HTTP API, which answers without it too (a request is signed over the path it carries, prefix ' +
          'included): empty, or starting with `/` and not ending with `/`.',
      ),
    logLevel: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
      .default('info')
      .describe('The least severe level logged.'),
    logFormat: z
      .enum(['pretty', 'json'])
      .optional()
      .describe(
        'How log lines are written: `json`, one JSON object per line (pino), or `pretty`, one readable ' +
          'line each; unset, `pretty` when standard output is a terminal and `json` otherwise.',
      ),
    logFrames: z
      .boolean()
      .default(false)
      .describe(
        'Log every WebSocket frame in and out at `info`, one line each, with its direction, socket id or ' +
          'WAMP session, app key or realm, and protocol; signatures, tickets and secrets are redacted. ' +
          '`--verbose` turns it on.',
      ),
    pidFile: z
      .string()
      .min(1)
      .optional()
      .describe('File that holds the process id while running: written at start, removed at stop.'),
    workers: positiveInt()
      .default(1)
      .describe(
        'Processes serving the port, each a node of the cluster; more than one needs `adapter.driver` ' +
          '`redis` or `nats`.',
      ),
    activityTimeoutSeconds: positiveInt()
      .default(120)
      .describe('`activity_timeout` announced to clients; a client silent this long gets `pusher:ping`.'),
    pongTimeoutSeconds: positiveInt()
      .default(30)
      .describe('How much longer a pinged client may stay silent before it is closed with 4201.'),
    maxMessageBytes: positiveInt()
      .default(65_536)
      .describe(
        'Largest WebSocket message a client may send; larger ones get `pusher:error` and are dropped ' +
          '(messages over 4 times this, at least 1 MiB, are cut off with WebSocket close 1009).',
      ),
    maxBufferedBytes: positiveInt()
      .default(4 * 1024 * 1024)
      .describe(
        'Bytes waiting to be sent to one client; a client that stops reading past this is closed with ' +
          '4100 (back off and reconnect).',
      ),
    maxRequestBodyBytes: positiveInt()
      .default(1024 * 1024)
      .describe('Largest HTTP API request body (413 above).'),
    maxTimestampSkewSeconds: positiveInt()
      .default(600)
      .describe('Accepted clock difference of signed HTTP requests.'),
    shutdownTimeoutMs: positiveInt().default(5_000).describe('How long shutdown waits for clients to leave.'),
    maxConnections: positiveInt()
      .nullable()
      .default(null)
      .describe(
        "Open connections on this node: WebSocket, both protocols, and WAMP RawSocket (an app's own " +
          '`maxConnections` is separate); `null` for no limit. More get HTTP 503 before the upgrade (the ' +
          'RawSocket error reply 4).',
      ),
    maxConnectionsPerAddress: positiveInt()
      .nullable()
      .default(null)
      .describe(
        'Open connections (WebSocket and RawSocket) from one client address; `null` for no limit (offices ' +
          'and mobile carriers put many users behind one address). More get HTTP 429 before the upgrade ' +
          '(the RawSocket error reply 4).',
      ),
    connectionRatePerAddress: z
      .strictObject({
        perSecond: positiveInt().default(100).describe('Average rate.'),
        burst: positiveInt().default(500).describe('Connections at once before the rate applies.'),
      })
      .nullable()
      .prefault({})
      .describe(
        'New WebSocket connections per second from one client address (a token bucket); `null` for no ' +
          'limit. More get HTTP 429 before the upgrade.',
      ),
    trustedProxies: z
      .array(z.string().refine(isAddressOrRange, 'must be an IP address or a CIDR range'))
      .default([])
      .describe(
        'Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client, for the ' +
          'limits per address.',
      ),
    maxMemoryMB: positiveInt()
      .nullable()
      .default(null)
      .describe(
        'Resident memory, in MiB, above which new connections (HTTP 503 before the upgrade) and ' +
          'subscriptions (429) are refused and `/ready` answers 503, until memory is back under 90 % of ' +
          "it; `null` for no ceiling. Set it to about 80 % of the container's memory.",
      ),
    apps: z
      .array(appSchema)
      .min(1)
      .default([appSchema.parse(DEFAULT_APP)])
      .describe(
        'The apps this server serves with `appStore.driver` `config`; the default one is for trying Herald out.',
      ),
    appStore: appStoreSchema
      .prefault({})
      .describe('Where apps come from: this configuration, or a PostgreSQL or MySQL table (docs/apps.md).'),
    adapter: adapterSchema
      .prefault({})
      .describe('The cluster adapter: `memory` for one process, `redis` or `nats` for a cluster of nodes.'),
    webhooks: webhooksSchema.default(webhooksSchema.parse({})),
    wamp: wampSchema.default(wampSchema.parse({})),
    dashboard: dashboardSchema
      .optional()
      .describe(
        'The dashboard at `/dashboard`, on the admin listener when there is one, else on the public port ' +
          '(docs/dashboard.md). Unset, it is off, except when only the default app is served: then ' +
          '`herald start` turns it on for a user `admin` with a random password, and prints both.',
      ),
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
