import type { TimedEvent, WebhookEvent } from '../core/webhook-outbox.js';

export type WebhookEventName = WebhookEvent['name'];

/**
 * The request body: `{"time_ms":…,"events":[…]}`. `time_ms` is when the earliest of the events
 * happened, so a receiver can tell how late a delayed or retried request is.
 */
export function encodeWebhookBody(events: readonly TimedEvent[]): string {
  let timeMs = Number.POSITIVE_INFINITY;
  for (const e of events) timeMs = Math.min(timeMs, e.timeMs);
  return JSON.stringify({ time_ms: timeMs, events: events.map((e) => e.event) });
}
