/**
 * Pusher JSON envelopes in and out (Pusher docs, Channels protocol). Pure: no I/O, no state.
 *
 * Outgoing channel events embed the published `data` string verbatim: it is JSON-encoded as a string
 * once, never parsed. Events the server creates carry their `data` as a JSON string too, as hosted
 * Pusher does (clients parse it back).
 */

import { type PusherError, type PusherErrorWithoutArgs, pusherError } from './errors.js';
import { jsonTooDeep } from './json-depth.js';

/** An incoming client frame, after the envelope was checked. `data` is as the client sent it. */
export interface ClientMessage {
  event: string;
  channel?: string;
  data?: unknown;
}

/** A refused frame: `refusal` is the typed error to answer with, `error` its message. */
export type DecodeResult =
  | { ok: true; message: ClientMessage }
  | { ok: false; error: string; refusal: PusherError };

export { jsonTooDeep, MAX_JSON_DEPTH, TOO_DEEP } from './json-depth.js';

function refused(name: PusherErrorWithoutArgs): DecodeResult {
  const refusal = pusherError(name);
  return { ok: false, error: refusal.message, refusal };
}

export function decodeClientMessage(text: string): DecodeResult {
  if (jsonTooDeep(text)) return refused('MESSAGE_TOO_DEEP');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return refused('MESSAGE_NOT_JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return refused('MESSAGE_NOT_OBJECT');
  }
  const { event, channel, data } = parsed as Record<string, unknown>;
  if (typeof event !== 'string' || event.length === 0) {
    return refused('MESSAGE_EVENT_MISSING');
  }
  if (channel !== undefined && typeof channel !== 'string') {
    return refused('MESSAGE_CHANNEL_NOT_STRING');
  }
  return { ok: true, message: { event, channel, data } };
}

/**
 * The `data` of `pusher:subscribe`, `pusher:unsubscribe` and `pusher:signin`: an object, or a JSON
 * string holding one (older clients). Returns undefined for anything else, a string nested deeper than
 * `MAX_JSON_DEPTH` included.
 */
export function objectData(data: unknown): Record<string, unknown> | undefined {
  let value = data;
  if (typeof value === 'string') {
    if (jsonTooDeep(value)) return undefined;
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** `{"event":…,"channel":…,"data":"<data>"}` with `data` embedded as the given string. */
export function encodeChannelEvent(event: string, channel: string, data: string): string {
  return `{"event":${JSON.stringify(event)},"channel":${JSON.stringify(channel)},"data":${JSON.stringify(data)}}`;
}

/** A server event whose `data` is serialised to a JSON string (connection_established, member events). */
export function encodeInternal(event: string, data: unknown, channel?: string): string {
  return channel === undefined
    ? `{"event":${JSON.stringify(event)},"data":${JSON.stringify(JSON.stringify(data))}}`
    : encodeChannelEvent(event, channel, JSON.stringify(data));
}

/** An event whose `data` stays a JSON object on the wire (`pusher:error`, `pusher:subscription_error`). */
export function encodeObjectEvent(event: string, data: unknown, channel?: string): string {
  return JSON.stringify(channel === undefined ? { event, data } : { event, channel, data });
}

/** The one place a `pusher:error` frame is made. */
export function encodeError(code: number | null, message: string): string {
  return encodeObjectEvent('pusher:error', { code, message });
}

/** The one place a `pusher:subscription_error` frame is made. */
export function encodeSubscriptionError(
  channel: string,
  type: string,
  error: string,
  status: number,
): string {
  return encodeObjectEvent('pusher:subscription_error', { type, error, status }, channel);
}
