import { type App, secretsOf } from '../../../core/apps/app.js';
import { constantTimeEqual } from '../../../core/constant-time.js';
import { hmacSha256Hex, httpSignatureString, md5Hex } from '../auth.js';
import { pusherApiError } from './errors.js';

/** Query parameters, percent-decoded; repeated keys (`channels[]=a&channels[]=b`) joined with ",". */
export function queryParams(url: URL): Record<string, string> {
  const params: Record<string, string> = Object.create(null);
  const add = (key: string, value: string) => {
    const earlier = params[key];
    params[key] = earlier === undefined ? value : `${earlier},${value}`;
  };
  const search = url.search.slice(1);
  // What the SDKs send (keys, a timestamp, hex digests) needs no decoding: split it as it is, which is
  // what URLSearchParams makes of a query without `%` or `+`, at a fraction of the cost per request.
  if (search.includes('%') || search.includes('+')) {
    for (const [key, value] of url.searchParams) add(key, value);
    return params;
  }
  for (const pair of search.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq < 0) add(pair, '');
    else add(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return params;
}

/**
 * Verifies a signed HTTP API request (Pusher docs, HTTP API reference, "Authentication"): key,
 * timestamp window, body_md5 of the raw body, then the HMAC, compared in constant time. Throws a 401
 * `ERR_PUSHER_API_…` naming the reason. A signature over `alsoPath` is accepted too, when given (the
 * path without `pathPrefix`, as pusher-http-php signs a request it sends under its `path` option).
 */
export function verifyRequest(
  app: App,
  method: string,
  path: string,
  params: Readonly<Record<string, string>>,
  body: Buffer,
  nowSeconds: number,
  maxSkewSeconds: number,
  alsoPath?: string,
): void {
  const { auth_key: key, auth_timestamp: timestamp, auth_signature: signature } = params;
  if (!key || !timestamp || !signature || !params.auth_version) {
    throw pusherApiError('AUTH_PARAMS_MISSING');
  }
  if (!constantTimeEqual(key, app.key)) throw pusherApiError('AUTH_KEY_UNKNOWN', key, app.id);
  const ts = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - ts) > maxSkewSeconds) {
    throw pusherApiError(
      'TIMESTAMP_EXPIRED',
      timeText(timestamp),
      maxSkewSeconds,
      timeText(String(nowSeconds)),
    );
  }
  if (body.length > 0) {
    if (!params.body_md5) throw pusherApiError('BODY_MD5_MISSING');
    if (!constantTimeEqual(params.body_md5, md5Hex(body))) throw pusherApiError('BODY_MD5_MISMATCH');
  }
  const signed = httpSignatureString(method, path, params);
  const bare = alsoPath === undefined ? undefined : httpSignatureString(method, alsoPath, params);
  // The app's secret, and the one before a rotation while its grace period lasts.
  for (const secret of secretsOf(app, nowSeconds * 1000)) {
    if (constantTimeEqual(signature, hmacSha256Hex(secret, signed))) return;
    if (bare !== undefined && constantTimeEqual(signature, hmacSha256Hex(secret, bare))) return;
  }
  throw pusherApiError('SIGNATURE_INVALID', JSON.stringify(signed), signature);
}

/**
 * A timestamp in seconds as an ISO date when it is one; anything else (not a number, or past the range
 * of a JavaScript Date, e.g. 99999999999999) is quoted as sent.
 */
function timeText(seconds: string): string {
  const date = /^\d+$/.test(seconds) ? new Date(Number(seconds) * 1000) : new Date(Number.NaN);
  return Number.isNaN(date.getTime()) ? JSON.stringify(seconds.slice(0, 100)) : date.toISOString();
}
