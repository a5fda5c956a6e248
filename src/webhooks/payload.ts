/**
 * What a webhook request carries (spec §7). Field names are the wire's: receivers and the `pusher`
 * SDKs read them as they are.
 */
export type WebhookEvent =
  | { name: 'channel_occupied' | 'channel_vacated' | 'cache_miss'; channel: string }
  | { name: 'member_added' | 'member_removed'; channel: string; user_id: string }
  | {
      name: 'client_event';
      channel: string;
      event: string;
      data: string;
      socket_id: string;
      /** Only on presence channels. */
      user_id?: string;
    }
  | { name: 'subscription_count'; channel: string; subscription_count: number };

export type WebhookEventName = WebhookEvent['name'];

/** An event and when it happened (ms since the epoch). */
export interface TimedEvent {
  event: WebhookEvent;
  timeMs: number;
}

/**
 * The request body: `{"time_ms":…,"events":[…]}`. `time_ms` is when the earliest of the events
 * happened, so a receiver can tell how late a delayed or retried request is.
 */
export function encodeWebhookBody(events: readonly TimedEvent[]): string {
  let timeMs = Number.POSITIVE_INFINITY;
  for (const e of events) timeMs = Math.min(timeMs, e.timeMs);
  return JSON.stringify({ time_ms: timeMs, events: events.map((e) => e.event) });
}
