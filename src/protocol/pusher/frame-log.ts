import { type FrameDescription, type FrameReader, REDACTED, unreadable } from '../../log/frame-log.js';
import { objectData } from './codec.js';
import { jsonTooDeep } from './json-depth.js';

/**
 * Pusher frames for the frame log (`logFrames`): the app key from the connection's path, the socket id
 * from `pusher:connection_established`, and the `auth` signature of `pusher:subscribe` and
 * `pusher:signin` redacted (Pusher docs, Channels protocol; `channel_data` and `user_data` stay), as
 * are the resume tokens of `herald:session` and `herald:resume` (docs/recovery.md).
 */
export const pusherFrameReader: FrameReader = {
  protocol: 'pusher',
  fields: { id: 'socketId', scope: 'appKey' },
  open(request) {
    return { scope: request.params[0], describe };
  },
};

function describe(data: string | Buffer, direction: 'in' | 'out'): FrameDescription {
  if (typeof data !== 'string') return unreadable(data, 'binary message');
  return direction === 'in' ? incoming(data) : outgoing(data);
}

const ESTABLISHED = '{"event":"pusher:connection_established"';
const SESSION = '{"event":"herald:session"';

/** The server's own frames are JSON on one line already; the only secret among them is a resume token. */
function outgoing(text: string): FrameDescription {
  if (text.startsWith(SESSION)) {
    const frame = JSON.parse(text) as { data?: unknown };
    const data = objectData(frame.data);
    const token = data?.resume_token;
    if (typeof token !== 'string') return { text };
    const shown = { ...frame, data: JSON.stringify({ ...data, resume_token: REDACTED }) };
    return { text: JSON.stringify(shown), secrets: [token] };
  }
  if (!text.startsWith(ESTABLISHED)) return { text };
  const id = objectData((JSON.parse(text) as { data?: unknown }).data)?.socket_id;
  return typeof id === 'string' ? { text, id } : { text };
}

/** Events whose `data.auth` is a signature the server checks. */
const SIGNED = new Set(['pusher:subscribe', 'pusher:signin']);
/** Events with a secret in their data, and its field. */
const SECRET_FIELD: Record<string, string> = {
  'pusher:subscribe': 'auth',
  'pusher:signin': 'auth',
  'herald:resume': 'token',
};

/**
 * A client's frame, parsed and written again (so that what is shown is what the server reads: a
 * duplicate key or an escaped `"auth"` cannot hide a signature) with the signatures redacted.
 */
function incoming(text: string): FrameDescription {
  if (jsonTooDeep(text)) return unreadable(text, 'nested too deep');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return unreadable(text, 'not JSON');
  }
  const secrets: string[] = [];
  if (isObject(parsed) && typeof parsed.event === 'string' && /^(pusher|herald):/.test(parsed.event)) {
    if ('data' in parsed) {
      const field = Object.hasOwn(SECRET_FIELD, parsed.event) ? SECRET_FIELD[parsed.event]! : 'auth';
      const secret = SIGNED.has(parsed.event) || field !== 'auth';
      parsed = { ...parsed, data: redacted(parsed.data, secret, secrets, field) };
    }
  }
  return { text: JSON.stringify(parsed), secrets };
}

/**
 * `data` without its secret `field` (`auth`, a resume `token`). It may be an object or a JSON string
 * holding one (older clients), as the server reads it; a string that holds no object is shown for
 * other events, hidden for those with a secret.
 */
function redacted(data: unknown, signed: boolean, secrets: string[], field: string): unknown {
  const withoutAuth = (object: Record<string, unknown>) => {
    if (!(field in object)) return object;
    const value = object[field];
    // `<key>:<signature>`; a refusal quotes the signature alone.
    if (typeof value === 'string') secrets.push(value, value.slice(value.indexOf(':') + 1));
    return { ...object, [field]: REDACTED };
  };
  if (isObject(data)) return withoutAuth(data);
  if (typeof data !== 'string') return data;
  const inner = objectData(data);
  if (inner === undefined) return signed ? REDACTED : data;
  return JSON.stringify(withoutAuth(inner));
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
