import { hmacSha256Hex } from '../protocol/pusher/auth.js';

/**
 * `X-Pusher-Signature`: lowercase hex HMAC-SHA256 of the exact body with the app secret (Pusher docs,
 * Webhooks, "Authentication").
 */
export function webhookSignature(secret: string, body: string): string {
  return hmacSha256Hex(secret, body);
}

/**
 * The headers of a webhook request. The webhook's own `headers` come first, so that they can add to
 * but never replace the ones a receiver verifies.
 */
export function webhookHeaders(
  app: { key: string; secret: string },
  body: string,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const headers: Record<string, string> = {};
  const reserved = new Set(['content-type', 'x-pusher-key', 'x-pusher-signature']);
  for (const [name, value] of Object.entries(extra)) {
    if (!reserved.has(name.toLowerCase())) headers[name] = value;
  }
  headers['Content-Type'] = 'application/json';
  headers['X-Pusher-Key'] = app.key;
  headers['X-Pusher-Signature'] = webhookSignature(app.secret, body);
  return headers;
}
