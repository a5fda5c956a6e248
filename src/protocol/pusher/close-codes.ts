/**
 * Pusher close and error codes (Pusher docs, Channels protocol, "Error Codes"). pusher-js reacts to the
 * close code by band:
 *
 * - 4000–4099: the client must not reconnect (it goes to `disconnected`).
 * - 4100–4199: the client reconnects after a fixed 1 s back-off.
 * - 4200–4299: the client reconnects immediately.
 * - 4300–4399: sent only inside `pusher:error` on an open connection; never as a close code, since
 *   pusher-js treats unknown codes as "refused" and gives up.
 *
 * Every server-initiated close is preceded by a `pusher:error` with the same code. The refusals that
 * send these codes, each with its stable `ERR_PUSHER_…` name and message, are in `errors.ts`.
 */
export const CloseCode = {
  /** App accepts TLS only. */
  SSL_ONLY: 4000,
  APP_NOT_FOUND: 4001,
  APP_DISABLED: 4003,
  OVER_CONNECTION_QUOTA: 4004,
  PATH_NOT_FOUND: 4005,
  INVALID_VERSION_FORMAT: 4006,
  UNSUPPORTED_PROTOCOL: 4007,
  NO_PROTOCOL_VERSION: 4008,
  /** "Connection is unauthorized": no sign-in in time, or an origin the app does not allow. */
  UNAUTHORIZED: 4009,
  /** Server over capacity, or this client too slow to keep up: back off, then reconnect. */
  OVER_CAPACITY: 4100,
  /** Graceful shutdown or restart: reconnect now. */
  RECONNECT: 4200,
  PONG_NOT_RECEIVED: 4201,
  CLOSED_AFTER_INACTIVITY: 4202,
} as const;

/** Codes of `pusher:error` frames that leave the connection open (4300–4399, see above). */
export const ErrorCode = {
  CLIENT_EVENT_RATE_LIMIT: 4301,
  WATCHLIST_LIMIT: 4302,
  /**
   * The connection is subscribed to the app's `maxSubscriptionsPerConnection` channels: this one was
   * refused (`pusher:subscription_error` 429); unsubscribing from another frees a slot.
   */
  SUBSCRIPTION_LIMIT: 4303,
  /**
   * The server is over its memory ceiling (`maxMemoryMB`): the subscription was refused
   * (`pusher:subscription_error` 429) and may be retried later; established ones keep working.
   */
  OVER_CAPACITY_RETRY_LATER: 4304,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];
