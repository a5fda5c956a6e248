import { createHash, createHmac } from 'node:crypto';
import { constantTimeEqual } from '../../core/constant-time.js';
import { type PusherError, pusherError, subscriptionError } from './errors.js';

/**
 * Signatures of Pusher's auth schemes (Pusher docs, Auth signatures; HTTP API reference,
 * "Authentication"). Every comparison is constant-time.
 */

export function hmacSha256Hex(secret: string, message: string): string {
  return createHmac('sha256', secret).update(message).digest('hex');
}

export function md5Hex(body: Buffer | string): string {
  return createHash('md5').update(body).digest('hex');
}

/**
 * `<socket_id>:<channel>[:<channel_data>]`, with `channel_data` exactly as received (Pusher docs, Auth
 * signatures).
 */
export function channelAuthString(socketId: string, channel: string, channelData?: string): string {
  return channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
}

/** `<socket_id>::user::<user_data>` (Pusher docs, Auth signatures). */
export function userAuthString(socketId: string, userData: string): string {
  return `${socketId}::user::${userData}`;
}

/** Why an `auth` value fails: missing, a key that is not the app's, or a signature that does not match. */
export type AuthFailure =
  | { reason: 'missing' }
  | { reason: 'key'; givenKey: string }
  | { reason: 'signature'; signed: string; given: string };

/**
 * Checks an `auth` value `"<key>:<hex>"` against the HMAC of `signed` with each of `secrets` (the app's,
 * and the one before a rotation during its grace period: `secretsOf`); undefined when it is valid.
 */
export function authFailure(
  auth: unknown,
  key: string,
  secrets: readonly string[],
  signed: string,
): AuthFailure | undefined {
  if (typeof auth !== 'string' || auth.length === 0) return { reason: 'missing' };
  const colon = auth.indexOf(':');
  const givenKey = colon < 0 ? auth : auth.slice(0, colon);
  if (colon < 0 || !constantTimeEqual(givenKey, key)) return { reason: 'key', givenKey };
  const given = auth.slice(colon + 1);
  if (secrets.some((secret) => constantTimeEqual(given, hmacSha256Hex(secret, signed)))) return undefined;
  return { reason: 'signature', signed, given };
}

/**
 * The refusal of a subscription's or a sign-in's bad `auth` value, in hosted Pusher's words; undefined
 * when the value is valid. `channel` is the subscription's; a sign-in has none.
 */
export function authError(
  on: 'subscription' | 'signin',
  failure: AuthFailure | undefined,
  channel?: string,
): PusherError | undefined {
  if (!failure) return undefined;
  if (on === 'signin') {
    if (failure.reason === 'missing') return pusherError('SIGNIN_AUTH_MISSING');
    if (failure.reason === 'key') return pusherError('SIGNIN_AUTH_KEY_INVALID', failure.givenKey);
    return pusherError('SIGNIN_SIGNATURE_INVALID', failure.signed, failure.given);
  }
  if (failure.reason === 'missing') return subscriptionError('SUBSCRIPTION_AUTH_MISSING', channel);
  if (failure.reason === 'key')
    return subscriptionError('SUBSCRIPTION_AUTH_KEY_INVALID', channel, failure.givenKey);
  return subscriptionError('SUBSCRIPTION_SIGNATURE_INVALID', channel, failure.signed, failure.given);
}

/** Why a subscription's `auth` value fails, as the client is told; undefined when it is valid. */
export function authProblem(auth: unknown, key: string, secret: string, signed: string): string | undefined {
  return authError('subscription', authFailure(auth, key, [secret], signed))?.message;
}

/**
 * The string an HTTP API request signs: `METHOD\nPATH\nQUERY`, QUERY being every parameter but
 * `auth_signature`, keys lower-cased and sorted, values decoded and unescaped (Pusher docs, HTTP API
 * reference, "Authentication").
 */
export function httpSignatureString(
  method: string,
  path: string,
  params: Readonly<Record<string, string>>,
): string {
  const pairs: [string, string][] = [];
  for (const key of Object.keys(params)) {
    if (key !== 'auth_signature') pairs.push([key.toLowerCase(), params[key]!]);
  }
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let query = '';
  for (let i = 0; i < pairs.length; i++) query += `${i === 0 ? '' : '&'}${pairs[i]![0]}=${pairs[i]![1]}`;
  return `${method.toUpperCase()}\n${path}\n${query}`;
}

/** Query parameters that sign a request as the `pusher` SDKs do (used by `herald trigger`). */
export function signRequest(
  method: string,
  path: string,
  credentials: { key: string; secret: string },
  body: string,
  params: Record<string, string> = {},
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const signed: Record<string, string> = {
    ...params,
    auth_key: credentials.key,
    auth_timestamp: String(timestamp),
    auth_version: '1.0',
  };
  if (body.length > 0) signed.body_md5 = md5Hex(body);
  signed.auth_signature = hmacSha256Hex(credentials.secret, httpSignatureString(method, path, signed));
  return signed;
}
