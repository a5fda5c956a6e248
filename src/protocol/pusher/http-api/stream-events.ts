import type { HistoryEvent, HistoryPage, ReadAfter } from '../../../core/channel-history/store.js';
import { pusherApiError } from './errors.js';

/**
 * `GET /apps/{id}/channels/{name}/events` (docs/recovery.md): its query parameters, checked, and its
 * answer made from a page of the channel's stream. Pure.
 */

/** Events one request may ask for, and those it gets without `limit`. */
export const MAX_EVENTS_LIMIT = 1000;
export const DEFAULT_EVENTS_LIMIT = 100;

const WHOLE = /^\d{1,16}$/;
const EPOCH = /^[A-Za-z0-9_-]{1,64}$/;

export interface StreamEventsQuery {
  readonly after: ReadAfter;
  readonly limit: number;
}

/** `since_offset`, `epoch` and `limit` from the query; throws the 400 that names the first one wrong. */
export function streamEventsQuery(params: Readonly<Record<string, string>>): StreamEventsQuery {
  const { since_offset: since, epoch, limit } = params;
  let offset = 0;
  if (since !== undefined) {
    offset = WHOLE.test(since) ? Number(since) : Number.NaN;
    if (!Number.isSafeInteger(offset)) throw pusherApiError('SINCE_OFFSET_INVALID');
  }
  if (epoch !== undefined && !EPOCH.test(epoch)) throw pusherApiError('EPOCH_INVALID');
  let count = DEFAULT_EVENTS_LIMIT;
  if (limit !== undefined) {
    count = /^\d{1,4}$/.test(limit) ? Number(limit) : 0;
    if (count < 1 || count > MAX_EVENTS_LIMIT) throw pusherApiError('LIMIT_INVALID', MAX_EVENTS_LIMIT);
  }
  return { after: { epoch, offset }, limit: count };
}

/** One event as the answer lists it: as published, `data` a string as the HTTP API takes it. */
export interface StreamEventBody {
  offset: number;
  event: string;
  data: string;
  /** The sender's presence user id, for a client event on a presence channel. */
  user_id?: string;
}

/** The answer: the stream's epoch and newest offset, whether nothing after `since_offset` was lost, the events. */
export function streamEventsBody(page: HistoryPage): Record<string, unknown> {
  return {
    epoch: page.position?.epoch ?? null,
    newest_offset: page.position?.offset ?? 0,
    complete: page.complete,
    events: page.events.map(eventBody),
  };
}

/** A stored frame (our own encoding: `{"event","channel","data"[,"user_id"]}`) as the answer lists it. */
function eventBody(stored: HistoryEvent): StreamEventBody {
  const frame = JSON.parse(stored.text) as { event: string; data?: unknown; user_id?: string };
  const data = typeof frame.data === 'string' ? frame.data : JSON.stringify(frame.data ?? null);
  const body: StreamEventBody = { offset: stored.offset, event: frame.event, data };
  if (typeof frame.user_id === 'string') body.user_id = frame.user_id;
  return body;
}
