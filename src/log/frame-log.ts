import type { Logger } from 'pino';
import type { Connection, Session, UpgradeRequest } from '../core/connection.js';
import type { Frame } from '../core/frame.js';

/** What replaces a signature, ticket or secret in a logged frame. */
export const REDACTED = '[redacted]';

/** Characters of a frame one line shows; the rest is counted, not printed. */
export const MAX_FRAME_CHARS = 4096;

/** Redacted strings a connection's lines are kept free of: the latest ones, from this many. */
const MAX_SECRETS = 8;
/** Shorter strings are no secret worth scrubbing from every later line. */
const MIN_SECRET_CHARS = 4;

export type Direction = 'in' | 'out';

/** A frame as the log may show it. */
export interface FrameDescription {
  /** The frame's content, one line of text, with every signature, ticket and secret replaced by `REDACTED`. */
  readonly text: string;
  /** The connection's id, when this frame announces it (Pusher `connection_established`, WAMP WELCOME). */
  readonly id?: string;
  /** The connection's realm, when this frame names it (WAMP HELLO). */
  readonly scope?: string;
  /**
   * The strings redacted from this frame. They are kept out of the connection's later lines too: a
   * server may quote what it refused (Pusher's "Invalid signature … but got <auth>").
   */
  readonly secrets?: readonly string[];
}

/** What the frame log needs to know of one protocol's wire format. */
export interface FrameReader {
  readonly protocol: 'pusher' | 'wamp';
  /** The names of each line's id and scope fields: `socketId` and `appKey`, or `session` and `realm`. */
  readonly fields: { readonly id: string; readonly scope: string };
  /**
   * The reader of one connection. `scope` is what the upgrade request already tells (the Pusher app
   * key). `describe` depends only on the bytes and the request's subprotocol, so one description of
   * a frame serves every connection it is sent to; it should not throw (if it does, the line shows
   * the frame's size only).
   */
  open(request: UpgradeRequest): {
    scope?: string;
    describe(data: string | Buffer, direction: Direction): FrameDescription;
  };
}

type Open = (connection: Connection, request: UpgradeRequest) => Session;

/**
 * Wraps a WebSocket route's `open` so that every frame in and out of its connections is logged at
 * `info`, one line each: `{protocol, direction, <id>, <scope>, frame}`, plus the closes. Installed
 * only when frame logging is on, so that connections opened without it do no work per frame at all.
 */
export function logFrames(open: Open, reader: FrameReader, logger: Logger): Open {
  const log = logger.child({ protocol: reader.protocol });
  const { id: idField, scope: scopeField } = reader.fields;
  // A message to N subscribers is one Frame: it is described once.
  const described = new WeakMap<Frame, FrameDescription>();
  return (connection, request) => {
    const conn = reader.open(request);
    const describe = (data: string | Buffer, direction: Direction): FrameDescription => {
      try {
        return conn.describe(data, direction);
      } catch (err) {
        // A reader's bug must cost the line, never the connection; the error may quote the frame.
        log.debug({ errType: (err as Error)?.name }, 'frame not described');
        return unreadable(data, 'not readable');
      }
    };
    let id: string | null = null;
    let scope: string | null = conn.scope ?? null;
    const secrets: string[] = [];
    const line = (direction: Direction, text: string) => {
      const shown = capped(secrets.length > 0 ? scrub(text, secrets) : text);
      log.info({ direction, [idField]: id, [scopeField]: scope, frame: shown }, 'frame');
    };
    const frame = (direction: Direction, description: FrameDescription) => {
      id = description.id ?? id;
      scope = description.scope ?? scope;
      for (const secret of description.secrets ?? []) remember(secrets, secret);
      line(direction, description.text);
    };
    const logged: Connection = {
      send(f) {
        let description = described.get(f);
        if (description === undefined) {
          description = describe(f.text, 'out');
          described.set(f, description);
        }
        frame('out', description);
        connection.send(f);
      },
      close(code, reason) {
        line('out', `(close ${code}${reason ? ` ${reason}` : ''})`);
        connection.close(code, reason);
      },
      drained: connection.drained && (() => connection.drained!()),
      get remoteAddress() {
        return connection.remoteAddress;
      },
      ...(connection.transportType === undefined ? {} : { transportType: connection.transportType }),
      ...(connection.maxMessageBytes === undefined ? {} : { maxMessageBytes: connection.maxMessageBytes }),
      ...(connection.maxIncomingBytes === undefined ? {} : { maxIncomingBytes: connection.maxIncomingBytes }),
    };
    const session = open(logged, request);
    return {
      onMessage(text, bytes) {
        frame('in', describe(text, 'in'));
        session.onMessage(text, bytes);
      },
      onBinary(data) {
        frame('in', describe(data, 'in'));
        session.onBinary(data);
      },
      onActivity: () => session.onActivity(),
      onOverflow: () => session.onOverflow(),
      onClose(code) {
        line('in', `(closed ${code})`);
        session.onClose(code);
      },
    };
  };
}

/** Keeps `secret` in the list, in all the forms JSON text may quote it in (as is, escaped once or twice). */
function remember(secrets: string[], secret: string): void {
  if (secret.length < MIN_SECRET_CHARS) return;
  const once = JSON.stringify(secret).slice(1, -1);
  const twice = JSON.stringify(once).slice(1, -1);
  for (const form of new Set([secret, once, twice])) {
    if (!secrets.includes(form)) secrets.push(form);
  }
  secrets.splice(0, Math.max(0, secrets.length - 3 * MAX_SECRETS));
}

function scrub(text: string, secrets: readonly string[]): string {
  let shown = text;
  for (const secret of secrets) if (shown.includes(secret)) shown = shown.replaceAll(secret, REDACTED);
  return shown;
}

function capped(text: string): string {
  return text.length <= MAX_FRAME_CHARS
    ? text
    : `${text.slice(0, MAX_FRAME_CHARS)}… (${text.length - MAX_FRAME_CHARS} more characters)`;
}

/** What a reader shows of a frame it cannot read: its size only, since it may hold anything. */
export function unreadable(data: string | Buffer, what: string): FrameDescription {
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  return { text: `(${what}, ${bytes} bytes, not shown)` };
}
