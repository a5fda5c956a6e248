import type { App } from '../../../core/apps/app.js';
import { HttpError } from '../../../http/router.js';
import { hmacSha256Hex, httpSignatureString, md5Hex, safeEqual } from '../auth.js';

/** Query parameters, percent-decoded; repeated keys (`channels[]=a&channels[]=b`) joined with ",". */
export function queryParams(url: URL): Record<string, string> {
  const params: Record<string, string> = Object.create(null);
  for (const [key, value] of url.searchParams) {
    const earlier = params[key];
    params[key] = earlier === undefined ? value : `${earlier},${value}`;
  }
  return params;
}

/**
 * Verifies a signed HTTP API request (spec §6.2): key, timestamp window, body_md5 of the raw body,
 * then the HMAC, compared in constant time. Throws 401 with the reason.
 */
export function verifyRequest(
  app: App,
  method: string,
  path: string,
  params: Readonly<Record<string, string>>,
  body: Buffer,
  nowSeconds: number,
  maxSkewSeconds: number,
): void {
  const { auth_key: key, auth_timestamp: timestamp, auth_signature: signature } = params;
  if (!key || !timestamp || !signature || !params.auth_version) {
    throw new HttpError(401, 'Missing auth_key, auth_timestamp, auth_version or auth_signature');
  }
  if (!safeEqual(key, app.key)) throw new HttpError(401, `Unknown auth_key "${key}" for app ${app.id}`);
  const ts = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - ts) > maxSkewSeconds) {
    throw new HttpError(
      401,
      `Timestamp expired: Given timestamp (${timeText(timestamp)}) not within ${maxSkewSeconds}s of server time (${timeText(String(nowSeconds))})`,
    );
  }
  if (body.length > 0) {
    if (!params.body_md5) throw new HttpError(401, 'body_md5 is required for a request with a body');
    if (!safeEqual(params.body_md5, md5Hex(body)))
      throw new HttpError(401, 'body_md5 does not match the body');
  }
  const signed = httpSignatureString(method, path, params);
  if (!safeEqual(signature, hmacSha256Hex(app.secret, signed))) {
    throw new HttpError(
      401,
      `Invalid signature: you should have sent HmacSHA256Hex(${JSON.stringify(signed)}, your_secret_key), but you sent "${signature}"`,
    );
  }
}

/**
 * A timestamp in seconds as an ISO date when it is one; anything else (not a number, or past the range
 * of a JavaScript Date, e.g. 99999999999999) is quoted as sent.
 */
function timeText(seconds: string): string {
  const date = /^\d+$/.test(seconds) ? new Date(Number(seconds) * 1000) : new Date(Number.NaN);
  return Number.isNaN(date.getTime()) ? JSON.stringify(seconds.slice(0, 100)) : date.toISOString();
}
