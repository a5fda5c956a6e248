import type { Logger } from 'pino';
import type { WebhookDelivery } from '../core/webhook-outbox.js';

/** How one attempt went: a 2xx status is the only success (Pusher docs, Webhooks, "Webhook format"). */
export type PostOutcome = { ok: true; status: number } | { ok: false; status?: number; error: string };

/**
 * Makes one attempt at a delivery. Resolves (never rejects) once the receiver answered, `timeoutMs`
 * passed, or `signal` aborted.
 */
export type PostWebhook = (
  delivery: WebhookDelivery,
  timeoutMs: number,
  signal: AbortSignal,
) => Promise<PostOutcome>;

/**
 * POSTs with `fetch`, whose shared agent keeps connections to each receiver alive. Redirects are not
 * followed: a 3xx is not the 2xx the receiver owes us, so it fails and is retried like any other.
 */
export function httpPoster(logger: Logger): PostWebhook {
  return async (delivery, timeoutMs, signal) => {
    let response: Response;
    try {
      response = await fetch(delivery.url, {
        method: 'POST',
        headers: delivery.headers,
        body: delivery.body,
        redirect: 'manual',
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
    } catch (err) {
      return { ok: false, error: describeError(err) };
    }
    const { status } = response;
    try {
      // Read the answer to its end so that the connection can carry the next request.
      await response.arrayBuffer();
    } catch (err) {
      // The status is what counts: a receiver that stalls after it has answered has still answered.
      logger.debug({ err, url: delivery.url, status }, 'webhook response body not read');
    }
    return status >= 200 && status < 300
      ? { ok: true, status }
      : { ok: false, status, error: `HTTP ${status}` };
  };
}

/** `ECONNREFUSED`, `TimeoutError`, …: the most specific name an attempt's failure has. */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  if (typeof cause?.code === 'string') return cause.code;
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return err.name;
  return typeof cause?.message === 'string' ? cause.message : err.message;
}

/**
 * The wait before retry number `attempt` (1 after the first failure): `baseMs` doubled at each
 * further attempt, capped at `maxMs`, then drawn uniformly from its upper half, so that receivers
 * coming back from an outage are not hit by every sender at the same instant.
 */
export function retryDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
