import { httpErrorEntry as entry, httpErrors } from '../../../http/errors.js';

/**
 * Every refusal of the Pusher HTTP API ("HTTP API Reference" and "Server API authentication" in the
 * Pusher Channels docs), thrown as `ERR_PUSHER_API_<NAME>` with its status and answered as
 * `{"error": message}`. `at` is where in the body the problem is (`batch[2].`, or nothing).
 */
export const PusherApiErrors = {
  // Who is asking (401: the request is not signed by the app; 403, 404: the app).
  /** One of the four `auth_*` query parameters is missing. */
  AUTH_PARAMS_MISSING: entry(401, () => 'Missing auth_key, auth_timestamp, auth_version or auth_signature'),
  AUTH_KEY_UNKNOWN: entry(401, (key: string, appId: string) => `Unknown auth_key "${key}" for app ${appId}`),
  /** `auth_timestamp` is not whole seconds within `maxTimestampSkewSeconds` of the server's clock. */
  TIMESTAMP_EXPIRED: entry(
    401,
    (given: string, skew: number, now: string) =>
      `Timestamp expired: Given timestamp (${given}) not within ${skew}s of server time (${now})`,
  ),
  BODY_MD5_MISSING: entry(401, () => 'body_md5 is required for a request with a body'),
  BODY_MD5_MISMATCH: entry(401, () => 'body_md5 does not match the body'),
  /** The HMAC does not match; the message shows the string that should have been signed. */
  SIGNATURE_INVALID: entry(
    401,
    (signed: string, given: string) =>
      `Invalid signature: you should have sent HmacSHA256Hex(${signed}, your_secret_key), but you sent "${given}"`,
  ),
  APP_NOT_FOUND: entry(404, (appId: string) => `Unknown app id "${appId}"`),
  APP_DISABLED: entry(403, (appId: string) => `App ${appId} is disabled`),
  /** The app store (a database) did not answer for an app not in the cache. */
  APPS_UNAVAILABLE: entry(503, (appId: string) => `App ${appId} cannot be looked up now; try again`),
  /** Over the app's `maxHttpRequestsPerSecond`, shared between the cluster's nodes. */
  RATE_LIMITED: entry(
    429,
    (appId: string, perSecond: number, where: string) =>
      `Too many requests: app ${appId} allows ${perSecond} per second${where}`,
  ),

  // The request body.
  BODY_NOT_JSON: entry(400, () => 'Request body must be JSON'),
  BODY_NOT_OBJECT: entry(400, () => 'Request body must be a JSON object'),
  BATCH_NOT_ARRAY: entry(400, () => '"batch" must be an array of events'),
  /** More events than the app's `maxBatchSize`. */
  BATCH_TOO_LARGE: entry(
    400,
    (size: number, max: number) => `Batch of ${size} events is over the limit of ${max}`,
  ),
  BATCH_ITEM_NOT_OBJECT: entry(400, (index: number) => `batch[${index}] must be an object`),
  INFO_NOT_STRING: entry(400, () => '"info" must be a comma-separated string'),

  // One event.
  EVENT_NAME_MISSING: entry(400, (at: string) => `${at}name must be a non-empty string`),
  /** Longer than the app's `maxEventNameLength`. */
  EVENT_NAME_TOO_LONG: entry(400, (at: string, max: number) => `${at}name is longer than ${max} characters`),
  /**
   * `pusher:` and `pusher_internal:` belong to the protocol ("Events" in the Pusher Channels docs),
   * `herald:` to message recovery (docs/recovery.md).
   */
  EVENT_NAME_RESERVED: entry(
    400,
    (at: string, prefix: string) => `${at}name may not start with "${prefix}", reserved by the protocol`,
  ),
  EVENT_DATA_NOT_STRING: entry(400, (at: string) => `${at}data must be a string`),
  /** Over the app's `maxEventPayloadBytes`. */
  EVENT_DATA_TOO_LARGE: entry(
    413,
    (at: string, bytes: number, max: number) => `${at}data is ${bytes} bytes, over the limit of ${max}`,
  ),
  SOCKET_ID_INVALID: entry(400, (at: string) => `${at}socket_id must look like "123.456"`),
  CHANNELS_NOT_ARRAY: entry(400, () => 'channels must be an array of channel names'),
  /** `what` is `channels or channel` for `POST /events`, `channel` in a batch. */
  CHANNEL_REQUIRED: entry(400, (at: string, what: string) => `${at}${what} is required`),
  CHANNELS_EMPTY: entry(400, (at: string) => `${at}channels must not be empty`),
  /** More channels than the app's `maxChannelsPerTrigger`. */
  TOO_MANY_CHANNELS: entry(
    400,
    (at: string, count: number, max: number) => `${at}${count} channels is over the limit of ${max}`,
  ),

  // Channels, in a body or a path.
  CHANNEL_NOT_STRING: entry(400, (field: string) => `${field} must be a string`),
  /** The name breaks the channel naming rules; `problem` says which. */
  CHANNEL_NAME_INVALID: entry(
    400,
    (field: string, name: string, problem: string) => `${field} ${JSON.stringify(name)}: ${problem}`,
  ),
  NOT_PRESENCE_CHANNEL: entry(400, (channel: string) => `${channel} is not a presence channel`),

  // `info` attributes asked of the wrong channels.
  USER_COUNT_NEEDS_PRESENCE_PREFIX: entry(
    400,
    () => 'info=user_count requires filter_by_prefix to start with "presence-"',
  ),
  USER_COUNT_NOT_PRESENCE: entry(400, () => 'info=user_count is only available for presence channels'),
  CACHE_INFO_NOT_CACHE: entry(400, () => 'info=cache is only available for cache channels'),

  // A channel's stream (docs/recovery.md).
  SINCE_OFFSET_INVALID: entry(
    400,
    () => `since_offset must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`,
  ),
  EPOCH_INVALID: entry(400, () => 'epoch must be an epoch as the stream gave it (letters, digits, - and _)'),
  LIMIT_INVALID: entry(400, (max: number) => `limit must be a whole number from 1 to ${max}`),
  /** The channel matches none of the app's `history.streams`. */
  NO_HISTORY: entry(
    404,
    (channel: string) => `${channel} keeps no history: it matches none of the app's history.streams`,
  ),
  /** The server's cluster set has no store for streams. */
  HISTORY_UNAVAILABLE: entry(501, () => 'This server keeps no channel history with its adapter'),
} as const;

/** The Pusher HTTP API's errors (`ERR_PUSHER_API_<NAME>`). */
export const pusherApiError = httpErrors('ERR_PUSHER_API_', PusherApiErrors);
