import { type FrameDescription, type FrameReader, REDACTED, unreadable } from '../../log/frame-log.js';
import { SERIALIZERS, type Serializer } from './codec.js';
import { exceedsDepth } from './depth.js';
import { MessageType as T } from './messages.js';
import { isDict } from './payload.js';

/**
 * WAMP frames for the frame log (`logFrames`), in any serializer, shown as JSON: the realm from HELLO,
 * the session ID from WELCOME, and the secrets redacted: AUTHENTICATE's signature (a ticket, a
 * WAMP-CRA or cryptosign signature) and HELLO's `authextra`, but for the public key a cryptosign
 * client names itself by (WAMP spec, Advanced Profile, Authentication).
 */
export const wampFrameReader: FrameReader = {
  protocol: 'wamp',
  fields: { id: 'session', scope: 'realm' },
  open(request) {
    const serializer = SERIALIZERS.get(request.protocol) ?? SERIALIZERS.get('wamp.2.json')!;
    return { describe: (data, direction) => describe(serializer, data, direction) };
  },
};

/** `authextra` entries that are public, and shown. */
const PUBLIC_AUTHEXTRA = new Set(['pubkey', 'channel_binding']);
/** Realm names are at most 255 characters; a longer one, refused anyway, is cut in the lines. */
const MAX_REALM_CHARS = 255;
/** Nesting a line shows; deeper messages (refused by the router anyway) are shown by size only. */
const MAX_SHOWN_DEPTH = 200;

function describe(serializer: Serializer, data: string | Buffer, direction: 'in' | 'out'): FrameDescription {
  let messages: unknown[][];
  try {
    const parts = serializer.split ? serializer.split(data) : [data];
    messages = parts.map((part) => serializer.decode(part).items);
  } catch {
    return unreadable(data, `not ${serializer.protocol}`);
  }
  if (exceedsDepth(messages, MAX_SHOWN_DEPTH)) return unreadable(data, 'nested too deep');
  let id: string | undefined;
  let scope: string | undefined;
  const secrets: string[] = [];
  const shown = messages.map((items) => {
    const [type] = items;
    if (type === T.AUTHENTICATE && items.length > 1) {
      if (typeof items[1] === 'string') secrets.push(items[1]);
      return [type, REDACTED, ...items.slice(2)];
    }
    if (type === T.HELLO) {
      if (direction === 'in' && typeof items[1] === 'string') scope = items[1].slice(0, MAX_REALM_CHARS);
      return withoutAuthextraSecrets(items, secrets);
    }
    if (type === T.WELCOME && direction === 'out' && typeof items[1] === 'number') id = String(items[1]);
    return items;
  });
  const text = JSON.stringify(shown.length === 1 ? shown[0] : shown, printable);
  return { text, secrets, ...(id === undefined ? {} : { id }), ...(scope === undefined ? {} : { scope }) };
}

function withoutAuthextraSecrets(items: unknown[], secrets: string[]): unknown[] {
  const details = items[2];
  if (!isDict(details) || !('authextra' in details)) return items;
  const hidden = (value: unknown) => {
    if (typeof value === 'string') secrets.push(value);
    return REDACTED;
  };
  const extra = details.authextra;
  const authextra = isDict(extra)
    ? Object.fromEntries(
        Object.entries(extra).map(([key, value]) => [key, PUBLIC_AUTHEXTRA.has(key) ? value : hidden(value)]),
      )
    : hidden(extra);
  return [items[0], items[1], { ...details, authextra }, ...items.slice(3)];
}

/** Binary values as WAMP's JSON convention writes them (`"\u0000"` + base64), 64-bit integers as digits. */
function printable(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof Uint8Array) {
    return `\u0000${Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64')}`;
  }
  return typeof value === 'bigint' ? String(value) : value;
}
