/**
 * Pusher JSON envelopes in and out (spec §1.4). Pure: no I/O, no state.
 *
 * Outgoing channel events embed the published `data` string verbatim: it is JSON-encoded as a string
 * once, never parsed. Events the server creates carry their `data` as a JSON string too, as hosted
 * Pusher does (clients parse it back).
 */

/** An incoming client frame, after the envelope was checked. `data` is as the client sent it. */
export interface ClientMessage {
  event: string;
  channel?: string;
  data?: unknown;
}

export type DecodeResult = { ok: true; message: ClientMessage } | { ok: false; error: string };

/**
 * How deeply a client's JSON may nest objects and arrays: a frame, counting the frame's own object,
 * and each JSON string inside one (`channel_data`, `user_data`). Deeper input is refused before it is
 * parsed (docs/pusher.md, "WebSocket protocol"): nothing a client means to say needs more, and the recursive
 * encoders the server runs on that data (`JSON.stringify`) overflow the stack some thousands of levels
 * down.
 */
export const MAX_JSON_DEPTH = 64;

export const TOO_DEEP = `nested deeper than ${MAX_JSON_DEPTH} levels`;

/**
 * True when JSON `text` opens more than `limit` objects or arrays inside one another. One pass over the
 * characters, no recursion and no allocation; brackets inside strings do not count. Meant for text
 * that is then parsed: on text that is not JSON its answer is only a guess, and the parser decides.
 */
export function jsonTooDeep(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

export function decodeClientMessage(text: string): DecodeResult {
  if (jsonTooDeep(text)) return { ok: false, error: `Invalid message format: ${TOO_DEEP}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, error: 'Invalid JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, error: 'Invalid message format: expected a JSON object' };
  }
  const { event, channel, data } = parsed as Record<string, unknown>;
  if (typeof event !== 'string' || event.length === 0) {
    return { ok: false, error: 'Invalid message format: "event" must be a non-empty string' };
  }
  if (channel !== undefined && typeof channel !== 'string') {
    return { ok: false, error: 'Invalid message format: "channel" must be a string' };
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

export function encodeError(code: number | null, message: string): string {
  return encodeObjectEvent('pusher:error', { code, message });
}
