import { HeraldError } from '../../core/errors.js';
import type { LimitName } from '../../core/limit-refusals.js';
import { CloseCode, ErrorCode } from './close-codes.js';
import { TOO_DEEP } from './json-depth.js';

/**
 * Every refusal the Pusher protocol sends a client, by stable name: `pusher:error` frames (with the
 * close that may follow) and `pusher:subscription_error` frames. The names are greppable
 * (`ERR_PUSHER_<KEY>`); the wire texts, codes and statuses are those clients have always seen.
 *
 * Code bands ("Pusher Protocol" docs, "Error Codes"), as pusher-js reacts to them:
 * - 4000–4099: the connection is closed and the client must not reconnect.
 * - 4100–4199: the connection is closed and the client reconnects after backing off.
 * - 4200–4299: the connection is closed and the client reconnects at once.
 * - 4300–4399: an error that keeps the connection open (never a close code).
 * - no code (`null`): the message was refused, the connection stays open.
 *
 * Sign-in refusals carry 4009 without closing: the Pusher docs' "Connection is unauthorized", sent as
 * soketi and Laravel Reverb do, and left open because a 4009 close makes pusher-js give up for good.
 */

/** `pusher:subscription_error`'s `type`. */
export type SubscriptionErrorType =
  | 'AuthError'
  | 'ChannelNameError'
  | 'InvalidRequest'
  | 'LimitReached'
  | 'OverCapacity'
  | 'ServerError';

/** One refusal: how it goes on the wire, and the words of its message. */
export interface PusherErrorEntry<A extends unknown[] = never[]> {
  /** `data.code` of the `pusher:error`; null when the refusal has no code. */
  readonly code: number | null;
  /** Closed with `code` after the `pusher:error` (bands 4000–4299 only). */
  readonly closes: boolean;
  /** Set for subscription refusals: a `pusher:subscription_error` goes first, when a channel was named. */
  readonly subscription?: { readonly type: SubscriptionErrorType; readonly status: number };
  /** The limit counted on `/metrics` (`herald_limit_refusals_total`) when this refusal is sent. */
  readonly limit?: LimitName;
  readonly message: (...args: A) => string;
}

const closing = <A extends unknown[]>(
  code: number,
  message: (...args: A) => string,
): PusherErrorEntry<A> => ({
  code,
  closes: true,
  message,
});

const keepsOpen = <A extends unknown[]>(
  code: number | null,
  message: (...args: A) => string,
): PusherErrorEntry<A> => ({
  code,
  closes: false,
  message,
});

const subscription = <A extends unknown[]>(
  type: SubscriptionErrorType,
  status: number,
  message: (...args: A) => string,
  extra: { code?: number; limit?: LimitName } = {},
): PusherErrorEntry<A> => ({
  code: extra.code ?? null,
  closes: false,
  subscription: { type, status },
  ...(extra.limit ? { limit: extra.limit } : {}),
  message,
});

/** Words hosted Pusher uses for a bad `auth` value; sign-in says "signin auth data" for its key. */
const authMissing = () => 'Auth value for subscription is missing';
const badSignature = (signed: string, given: string) =>
  `Invalid signature: Expected HMAC SHA256 hex digest of ${signed}, but got ${given}`;

export const PusherErrors = {
  // 4000–4099: closed, the client must not reconnect.
  /** `?protocol=` is not a whole number. */
  INVALID_VERSION_FORMAT: closing(CloseCode.INVALID_VERSION_FORMAT, () => 'Invalid version string format'),
  /** Protocol versions below 4, which pusher-js dropped long ago. */
  PROTOCOL_TOO_OLD: closing(
    CloseCode.UNSUPPORTED_PROTOCOL,
    () => 'Protocols 1, 2 and 3 are no longer supported',
  ),
  /** Protocol versions above 7, which this server does not know. */
  PROTOCOL_UNSUPPORTED: closing(CloseCode.UNSUPPORTED_PROTOCOL, () => 'Unsupported protocol version'),
  /** No app has the key in the path (hosted Pusher's wording). */
  APP_NOT_FOUND: closing(
    CloseCode.APP_NOT_FOUND,
    (key: string) => `App key ${key} not in this cluster. Did you forget to specify the cluster?`,
  ),
  APP_DISABLED: closing(CloseCode.APP_DISABLED, () => 'Application disabled'),
  /** The app was deleted from its store while connected (the code of a disabled app). */
  APP_DELETED: closing(CloseCode.APP_DISABLED, () => 'Application deleted'),
  /** The app's `allowedOrigins` is set and the handshake had no Origin header. */
  ORIGIN_REQUIRED: closing(CloseCode.UNAUTHORIZED, () => 'Origin header required'),
  /** The handshake's Origin is not among the app's `allowedOrigins`. */
  ORIGIN_NOT_ALLOWED: closing(CloseCode.UNAUTHORIZED, () => 'Origin not allowed'),
  /** The app has `maxConnections` open connections across the cluster. */
  OVER_CONNECTION_QUOTA: closing(
    CloseCode.OVER_CONNECTION_QUOTA,
    () => 'Application is over connection quota',
  ),
  /**
   * The app requires sign-in, and the connection neither signed in nor subscribed to an authorized
   * channel in time.
   */
  SIGNIN_TIMEOUT: closing(CloseCode.UNAUTHORIZED, () => 'Connection is unauthorized: not signed in in time'),
  /** The app terminated the user's connections through the HTTP API (soketi's wording). */
  USER_TERMINATED: closing(CloseCode.UNAUTHORIZED, () => 'You got disconnected by the app.'),

  // 4100–4199: closed, the client backs off, then reconnects.
  /** The handshake failed on the server's side. */
  HANDSHAKE_FAILED: closing(CloseCode.OVER_CAPACITY, () => 'Internal error, try again'),
  /** The app store (a database) did not answer for an app not in the cache, or too many were asked for at once. */
  APPS_UNAVAILABLE: closing(CloseCode.OVER_CAPACITY, () => 'App lookup unavailable, try again'),
  /** Every socket id tried was in use (only a pinned id generator repeats itself). */
  NO_SOCKET_ID: closing(CloseCode.OVER_CAPACITY, () => 'No socket id available'),
  /** The client did not read its messages and its buffer filled up. */
  CLIENT_TOO_SLOW: closing(CloseCode.OVER_CAPACITY, () => 'Client too slow: messages were not read in time'),

  // 4200–4299: closed, the client reconnects at once.
  /** The server is stopping or restarting. */
  SHUTTING_DOWN: closing(CloseCode.RECONNECT, () => 'Server is shutting down, reconnect'),
  /** No `pusher:pong` (or any message) within `pongTimeoutSeconds` of our `pusher:ping`. */
  PONG_NOT_RECEIVED: closing(CloseCode.PONG_NOT_RECEIVED, () => 'Pong reply not received'),
  /** A new connection resumed this one with its resume token (docs/recovery.md): it was left behind. */
  RESUMED_ELSEWHERE: closing(CloseCode.RECONNECT, () => 'Connection resumed by a newer one'),

  // 4300–4399 and no code: the message is refused, the connection stays open.
  /** A message over `maxMessageBytes`. */
  MESSAGE_TOO_LARGE: keepsOpen(
    null,
    (bytes: number, limit: number) => `Message too large: ${bytes} bytes, limit ${limit}`,
  ),
  /** A frame nested deeper than the codec's `MAX_JSON_DEPTH`. */
  MESSAGE_TOO_DEEP: keepsOpen(null, () => `Invalid message format: ${TOO_DEEP}`),
  MESSAGE_NOT_JSON: keepsOpen(null, () => 'Invalid JSON'),
  MESSAGE_NOT_OBJECT: keepsOpen(null, () => 'Invalid message format: expected a JSON object'),
  MESSAGE_EVENT_MISSING: keepsOpen(null, () => 'Invalid message format: "event" must be a non-empty string'),
  MESSAGE_CHANNEL_NOT_STRING: keepsOpen(null, () => 'Invalid message format: "channel" must be a string'),
  /** A `pusher:*` or other event that is neither a protocol event nor a `client-*` event. */
  UNSUPPORTED_EVENT: keepsOpen(null, (event: string) => `Unsupported event: ${event}`),
  BINARY_MESSAGE: keepsOpen(null, (bytes: number) => `Binary messages are not supported (${bytes} bytes)`),
  /** More than the app's `maxClientEventsPerSecond` client events in one second. */
  CLIENT_EVENT_RATE_LIMIT: keepsOpen(
    ErrorCode.CLIENT_EVENT_RATE_LIMIT,
    () => 'Client event rejected due to rate limit',
  ),
  CLIENT_EVENTS_DISABLED: keepsOpen(null, () => 'Client events are not enabled for this app'),
  CLIENT_EVENT_NAME_TOO_LONG: keepsOpen(null, (max: number) => `Event name is longer than ${max} characters`),
  CLIENT_EVENT_NO_CHANNEL: keepsOpen(null, () => 'Client event needs a channel'),
  /** Client events go only to private and presence channels, never to public or encrypted ones. */
  CLIENT_EVENT_CHANNEL_KIND: keepsOpen(
    null,
    (channel: string) => `Client events are only allowed on private and presence channels, not on ${channel}`,
  ),
  CLIENT_EVENT_NOT_SUBSCRIBED: keepsOpen(
    null,
    (channel: string) => `Client event on ${channel}, which this connection has not subscribed to`,
  ),
  CLIENT_EVENT_TOO_LARGE: keepsOpen(
    null,
    (bytes: number, max: number) => `Client event data is ${bytes} bytes, over the limit of ${max}`,
  ),
  /** A `herald:resume` that is not `{token, received}` as docs/recovery.md describes it. */
  RESUME_INVALID: keepsOpen(null, (problem: string) => `Invalid herald:resume: ${problem}`),
  /** `herald:resume` to an app without `history`. */
  RESUME_UNAVAILABLE: keepsOpen(null, () => 'herald:resume: this app keeps no history to resume from'),
  /** A second `herald:resume` on one connection. */
  RESUME_REPEATED: keepsOpen(null, () => 'herald:resume may be sent once per connection'),
  /** `pusher:signin`: the data string is nested too deeply to parse. */
  SIGNIN_TOO_DEEP: keepsOpen(CloseCode.UNAUTHORIZED, () => `pusher:signin data is ${TOO_DEEP}`),
  SIGNIN_USER_DATA_MISSING: keepsOpen(CloseCode.UNAUTHORIZED, () => 'pusher:signin needs a user_data string'),
  SIGNIN_AUTH_MISSING: keepsOpen(CloseCode.UNAUTHORIZED, authMissing),
  SIGNIN_AUTH_KEY_INVALID: keepsOpen(
    CloseCode.UNAUTHORIZED,
    (givenKey: string) => `Invalid key in signin auth data: '${givenKey}'`,
  ),
  SIGNIN_SIGNATURE_INVALID: keepsOpen(CloseCode.UNAUTHORIZED, badSignature),
  SIGNIN_USER_DATA_TOO_DEEP: keepsOpen(CloseCode.UNAUTHORIZED, () => `user_data is ${TOO_DEEP}`),
  SIGNIN_USER_ID_MISSING: keepsOpen(
    CloseCode.UNAUTHORIZED,
    () => 'user_data must be a JSON object with a non-empty string id',
  ),
  /** A connection is bound to one user id; signing in again as another is refused. */
  SIGNIN_OTHER_USER: keepsOpen(
    CloseCode.UNAUTHORIZED,
    (current: string) => `Connection is already signed in as user ${current}`,
  ),
  /** The sign-in's watchlist had more than `maxWatchlistSize` ids: the first ones were kept. */
  WATCHLIST_LIMIT: keepsOpen(
    ErrorCode.WATCHLIST_LIMIT,
    (max: number) => `Watchlist limit exceeded. Only the first ${max} user IDs are accepted.`,
  ),

  // Subscription refusals: `pusher:subscription_error` (when a channel was named), then `pusher:error`
  // with the same message; the connection stays open.
  SUBSCRIBE_TOO_DEEP: subscription('InvalidRequest', 400, () => `pusher:subscribe data is ${TOO_DEEP}`),
  SUBSCRIBE_NO_CHANNEL: subscription(
    'InvalidRequest',
    400,
    () => 'pusher:subscribe needs data with a string "channel"',
  ),
  /** The channel name breaks the naming rules; the rule it breaks is the message. */
  CHANNEL_NAME_INVALID: subscription('ChannelNameError', 400, (problem: string) => problem),
  /** `#server-to-user-<id>` by a connection not signed in as `<id>`. */
  USER_CHANNEL_FORBIDDEN: subscription(
    'AuthError',
    403,
    (owner: string) => `Only the connection signed in as user ${owner} may subscribe`,
  ),
  CHANNEL_DATA_NOT_STRING: subscription('InvalidRequest', 400, () => 'channel_data must be a JSON string'),
  SUBSCRIPTION_AUTH_MISSING: subscription('AuthError', 401, authMissing),
  SUBSCRIPTION_AUTH_KEY_INVALID: subscription(
    'AuthError',
    401,
    (givenKey: string) => `Invalid key in subscription auth data: '${givenKey}'`,
  ),
  SUBSCRIPTION_SIGNATURE_INVALID: subscription('AuthError', 401, badSignature),
  /** A presence subscription without `channel_data` from a connection that is not signed in. */
  PRESENCE_CHANNEL_DATA_MISSING: subscription(
    'InvalidRequest',
    400,
    () => 'Presence subscription needs channel_data',
  ),
  CHANNEL_DATA_TOO_DEEP: subscription('InvalidRequest', 400, () => `channel_data is ${TOO_DEEP}`),
  CHANNEL_DATA_USER_ID_MISSING: subscription(
    'InvalidRequest',
    400,
    () => 'channel_data must be a JSON object with a user_id',
  ),
  PRESENCE_USER_ID_TOO_LONG: subscription(
    'LimitReached',
    400,
    (max: number) => `user_id is longer than ${max} characters`,
  ),
  PRESENCE_USER_INFO_TOO_LARGE: subscription(
    'LimitReached',
    400,
    (max: number) => `user_info is larger than ${max} bytes`,
  ),
  /** The presence channel has the app's `maxPresenceMembers` members. */
  PRESENCE_CHANNEL_FULL: subscription(
    'LimitReached',
    403,
    (channel: string, max: number) => `Presence channel ${channel} is full (${max} members)`,
  ),
  /** The connection holds `maxSubscriptionsPerConnection` channels; unsubscribing frees a slot. */
  SUBSCRIPTION_LIMIT: subscription(
    'LimitReached',
    429,
    (max: number) =>
      `This connection is subscribed to ${max} channels, the most allowed: unsubscribe from one first`,
    { code: ErrorCode.SUBSCRIPTION_LIMIT, limit: 'subscriptions_per_connection' },
  ),
  /** The server is over `maxMemoryMB`: new subscriptions wait, established ones keep working. */
  OVER_CAPACITY_RETRY_LATER: subscription(
    'OverCapacity',
    429,
    () => 'Server is over capacity: no new subscriptions for now, retry later',
    { code: ErrorCode.OVER_CAPACITY_RETRY_LATER, limit: 'memory' },
  ),
  /** The presence store or the broker failed: nothing was subscribed, and the client may retry. */
  SUBSCRIPTION_UNAVAILABLE: subscription(
    'ServerError',
    503,
    (channel: string) => `Could not subscribe to ${channel} right now, try again`,
  ),
} as const;

export type PusherErrorName = keyof typeof PusherErrors;

type ArgsOf<K extends PusherErrorName> =
  (typeof PusherErrors)[K] extends PusherErrorEntry<infer A> ? A : never;

/** The refusals whose message takes no argument. */
export type PusherErrorWithoutArgs = {
  [K in PusherErrorName]: ArgsOf<K> extends [] ? K : never;
}[PusherErrorName];

/**
 * A refusal, thrown (or returned by the pure checks, hence `ok: false`) where the problem is found and
 * answered in one place, `answer` (refusal.ts). `code` is the stable `ERR_PUSHER_<NAME>`.
 */
export class PusherError extends HeraldError {
  readonly ok = false;
  readonly entry: PusherErrorEntry<unknown[]>;
  /** The channel of a subscription refusal, when the request named one. */
  readonly channel: string | undefined;

  constructor(name: PusherErrorName, message: string, channel?: string) {
    super(`ERR_PUSHER_${name}`, message);
    this.entry = PusherErrors[name] as unknown as PusherErrorEntry<unknown[]>;
    this.channel = channel;
  }

  /** `data.code` of the `pusher:error` frame. */
  get wireCode(): number | null {
    return this.entry.code;
  }
}

/** The refusal `name`, its message built from `args`. */
export function pusherError<K extends PusherErrorName>(name: K, ...args: ArgsOf<K>): PusherError {
  const entry = PusherErrors[name] as unknown as PusherErrorEntry<ArgsOf<K>>;
  return new PusherError(name, entry.message(...args));
}

/** A subscription refusal `name` about `channel` (undefined when the request named none). */
export function subscriptionError<K extends PusherErrorName>(
  name: K,
  channel: string | undefined,
  ...args: ArgsOf<K>
): PusherError {
  const entry = PusherErrors[name] as unknown as PusherErrorEntry<ArgsOf<K>>;
  return new PusherError(name, entry.message(...args), channel);
}
