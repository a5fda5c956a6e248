import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type AppStore, AppStoreUnavailable } from '../../core/apps/app.js';
import type { UpgradeRequest } from '../../core/connection.js';
import type { DebugFeed } from '../../core/debug-feed.js';
import { Frame } from '../../core/frame.js';
import { checkOrigin } from '../../core/origin.js';
import type { AppTraffic } from '../../core/traffic.js';
import type { AppStates } from './app-states.js';
import { encodeInternal } from './codec.js';
import { PusherError, pusherError } from './errors.js';
import type { PusherQueries } from './queries.js';
import type { Recovery } from './recovery.js';
import type { PusherSocket } from './socket.js';
import type { Users } from './users.js';

/** Attempts to find an unused socket id before giving up (only a pinned generator repeats itself). */
const SOCKET_ID_ATTEMPTS = 8;

/** CSPRNG bytes drawn in bulk: one `randomBytes` call per 512 socket ids instead of one per id. */
const ID_POOL_BYTES = 4096;
let idPool = Buffer.alloc(0);
let idOffset = 0;

/**
 * `<uint32>.<uint32>` from a CSPRNG: the form the server SDKs accept (`^\d+\.\d+$`), and bound into
 * every auth signature, so not to be guessed by another client (Pusher docs, Channels protocol).
 */
export function randomSocketId(): string {
  if (idOffset + 8 > idPool.length) {
    idPool = randomBytes(ID_POOL_BYTES);
    idOffset = 0;
  }
  const id = `${idPool.readUInt32BE(idOffset)}.${idPool.readUInt32BE(idOffset + 4)}`;
  idOffset += 8;
  return id;
}

/**
 * The protocol version of the `protocol` query parameter: 4 to 7, and 7 when there is none; throws the
 * `PusherError` that refuses any other (Pusher docs, Channels protocol).
 */
export function protocolVersion(protocol: string | null): number {
  const version = protocol === null ? 7 : /^\d+$/.test(protocol) ? Number(protocol) : Number.NaN;
  if (Number.isNaN(version)) throw pusherError('INVALID_VERSION_FORMAT');
  if (version < 4) throw pusherError('PROTOCOL_TOO_OLD');
  if (version > 7) throw pusherError('PROTOCOL_UNSUPPORTED');
  return version;
}

/** What the handshake needs of the server. */
export interface HandshakeParts {
  readonly apps: Pick<AppStore, 'findByKey'>;
  readonly logger: Logger;
  readonly activityTimeoutSeconds: number;
  readonly socketIds: () => string;
  /** Open connections of the app on every node, for `maxConnections`. */
  readonly queries: Pick<PusherQueries, 'connections'>;
  readonly states: Pick<AppStates, 'of'>;
  /** Told when the connection is established (the sign-in deadline starts). */
  readonly users: Pick<Users, 'opened'>;
  /** Where each connection is counted once its app is known, refused or not. */
  readonly traffic: Pick<AppTraffic, 'of'>;
  /** Where established connections are reported for the debug console. */
  readonly feed?: DebugFeed;
  /** Gives connections of apps with `history` their resume token. */
  readonly recovery?: Pick<Recovery, 'opened'> | undefined;
  answer(socket: PusherSocket, err: PusherError): void;
}

/**
 * From the upgrade to `pusher:connection_established`: the protocol version, the app and its origin
 * allowlist, the connection quota, then a socket id unused in the app.
 */
export class Handshake {
  readonly #parts: HandshakeParts;

  constructor(parts: HandshakeParts) {
    this.#parts = parts;
  }

  /**
   * Establishes `socket`, accepted at `/app/{key}`, or answers with the refusal (and the close). Never
   * rejects; settles without a word when the socket closed meanwhile.
   */
  establish(socket: PusherSocket, request: UpgradeRequest): Promise<void> {
    const key = request.params[0] ?? '';
    const protocol = request.query.get('protocol');
    return this.#establish(socket, key, protocol, request.headers.origin).catch((err) => {
      if (err instanceof PusherError) return this.#parts.answer(socket, err);
      // Said once per outage by the store's cache, not once per connection.
      if (err instanceof AppStoreUnavailable)
        return this.#parts.answer(socket, pusherError('APPS_UNAVAILABLE'));
      this.#parts.logger.error({ err }, 'pusher handshake failed');
      this.#parts.answer(socket, pusherError('HANDSHAKE_FAILED'));
    });
  }

  /** Throws the `PusherError` that refuses the handshake. */
  async #establish(
    socket: PusherSocket,
    key: string,
    protocol: string | null,
    origin: string | readonly string[] | undefined,
  ): Promise<void> {
    protocolVersion(protocol);
    const parts = this.#parts;
    const app = await parts.apps.findByKey(key);
    if (socket.state !== 'pending') return;
    if (!app) throw pusherError('APP_NOT_FOUND', key);
    socket.connection.countIn?.(parts.traffic.of('pusher', app.id));
    if (!app.enabled) throw pusherError('APP_DISABLED');
    // Refused before any work is done for the connection (README "App settings"): 4009 is the
    // Pusher docs' "Connection is unauthorized", and Laravel Reverb's code for a disallowed origin.
    const verdict = checkOrigin(app, origin);
    if (verdict !== 'allowed') {
      parts.logger.debug({ appId: app.id, origin: String(origin).slice(0, 200), verdict }, 'origin refused');
      throw pusherError(verdict === 'missing' ? 'ORIGIN_REQUIRED' : 'ORIGIN_NOT_ALLOWED');
    }
    const state = parts.states.of(app);
    if (app.maxConnections !== null && (await parts.queries.connections(app)) >= app.maxConnections) {
      throw pusherError('OVER_CONNECTION_QUOTA');
    }
    if (socket.state !== 'pending') return;
    let id = parts.socketIds();
    for (let i = 1; state.sockets.has(id); i++) {
      if (i === SOCKET_ID_ATTEMPTS) throw pusherError('NO_SOCKET_ID');
      id = parts.socketIds();
    }
    socket.id = id;
    socket.app = app;
    socket.state = 'open';
    state.sockets.set(id, socket);
    const established = { socket_id: id, activity_timeout: parts.activityTimeoutSeconds };
    socket.connection.send(new Frame(encodeInternal('pusher:connection_established', established)));
    parts.recovery?.opened(socket, state);
    if (parts.feed?.watched(state.namespace))
      parts.feed.report(state.namespace, { type: 'connection_opened', socketId: id });
    parts.users.opened(socket, app);
  }
}
