import type { Logger } from 'pino';
import type { Connection, Session, UpgradeRequest } from '../../core/connection.js';
import type { Frame } from '../../core/frame.js';
import type { LimitName } from '../../core/limit-refusals.js';
import type { PendingAuth, Principal } from './auth.js';
import type { Outgoing, Serializer } from './codec.js';
import { ProtocolViolation, WampError, WampUri } from './errors.js';
import { type ClientMessage, type Dict, out, parseMessage, MessageType as T } from './messages.js';
import { isDict } from './payload.js';
import type { ClientRole, Peer } from './peer.js';
import type { Realm } from './realm.js';

/** What a session needs from its router. */
export interface SessionHost {
  readonly logger: Logger;
  readonly maxMessageBytes: number;
  /** How long from the upgrade (or a GOODBYE) to WELCOME before the transport is closed. */
  readonly helloTimeoutMs: number;
  /** A request or connection was refused by a limit: counted for the metrics. */
  refused(limit: LimitName): void;
  /** HELLO on a fresh (or reused) transport: answers with WELCOME, CHALLENGE or ABORT. */
  hello(session: WampSession, message: Extract<ClientMessage, { type: 1 }>): void;
  /** AUTHENTICATE after a CHALLENGE. */
  authenticate(session: WampSession, signature: string): void;
  /** The session ID is free again. */
  release(id: number): void;
  /** The transport is gone. */
  closed(session: WampSession): void;
}

/**
 * How long a killed session has to echo the router's GOODBYE before its transport is closed (WAMP spec,
 * Basic Profile, Session Closing).
 */
const GOODBYE_TIMEOUT_MS = 5000;

/** WebSocket close codes: WAMP defines none; 1002 marks a protocol violation as autobahn-python does. */
const CLOSE_NORMAL = 1000;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_PROTOCOL_ERROR = 1002;

type State = 'new' | 'challenging' | 'established' | 'closing' | 'closed';

/**
 * One WAMP transport and the session on it (WAMP spec, Basic Profile, Session Statechart): CLOSED → HELLO →
 * [CHALLENGE/AUTHENTICATE] → established → GOODBYE. Anything out of place is a protocol violation: ABORT,
 * state dropped, transport closed; other sessions are unaffected.
 */
export class WampSession implements Session, Peer {
  id = 0;
  authid = '';
  authrole = '';
  #principal: Principal | undefined;
  #roles: Dict = {};
  #state: State = 'new';
  #realm: Realm | undefined;
  #pending: PendingAuth | undefined;
  #goodbyeTimer: NodeJS.Timeout | undefined;
  /** Runs while no session is established on the transport: a socket that never joins is not kept. */
  #helloTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly host: SessionHost,
    readonly connection: Connection,
    public serializer: Serializer,
    readonly request: UpgradeRequest,
  ) {
    this.#awaitHello();
  }

  /**
   * Starts the wait for WELCOME (docs/wamp.md, "Settings", `wamp.helloTimeoutMs`). The spec lets the
   * router ABORT during the opening handshake, so the peer is told why before the transport closes.
   */
  #awaitHello(): void {
    clearTimeout(this.#helloTimer);
    this.#helloTimer = setTimeout(() => {
      this.#helloTimer = undefined;
      if (this.#state !== 'new' && this.#state !== 'challenging') return;
      this.host.refused('wamp_hello_timeout');
      this.abort(WampUri.HELLO_TIMEOUT, `no session established within ${this.host.helloTimeoutMs} ms`);
    }, this.host.helloTimeoutMs);
  }

  /** Stops every timer of the session: its transport is gone or going. */
  #stopTimers(): void {
    clearTimeout(this.#goodbyeTimer);
    clearTimeout(this.#helloTimer);
    this.#goodbyeTimer = undefined;
    this.#helloTimer = undefined;
  }

  get realm(): Realm | undefined {
    return this.#realm;
  }

  onMessage(text: string, bytes: number): void {
    this.#receive(text, bytes);
  }

  onBinary(data: Buffer): void {
    this.#receive(data, data.length);
  }

  onActivity(): void {}

  /** The transport is being cut (the client stopped reading): the session ends as on transport loss. */
  onOverflow(): void {
    this.#stopTimers();
    this.#leave(false);
    this.#state = 'closed';
  }

  onClose(_code: number): void {
    this.#stopTimers();
    this.#leave(false);
    this.#state = 'closed';
    this.host.closed(this);
  }

  #receive(data: string | Buffer, bytes: number): void {
    if (this.#state === 'closed') return;
    try {
      const limit = this.connection.maxIncomingBytes ?? this.host.maxMessageBytes;
      if (bytes > limit) {
        throw new WampError(WampUri.PAYLOAD_SIZE_EXCEEDED, `message of ${bytes} bytes exceeds ${limit}`);
      }
      const { serializer } = this;
      if (!serializer.split) {
        const { items, payload } = serializer.decode(data);
        return this.#handle(parseMessage(items, payload));
      }
      // A batch: its first one also says how to answer (the separator autobahn-python uses).
      if (this.#state === 'new' && serializer.replyAs) this.serializer = serializer.replyAs(data);
      for (const part of serializer.split(data)) {
        const { items, payload } = serializer.decode(part);
        this.#handle(parseMessage(items, payload));
        if ((this.#state as State) === 'closed') return; // an earlier message of the batch ended it
      }
    } catch (err) {
      if (err instanceof WampError) return this.abort(err.uri, err.message, CLOSE_PROTOCOL_ERROR);
      this.host.logger.error({ err, session: this.id }, 'WAMP message handling failed');
      this.abort(WampUri.PROTOCOL_VIOLATION, 'internal error handling the message', CLOSE_PROTOCOL_ERROR);
    }
  }

  #handle(m: ClientMessage): void {
    if (m.type === T.ABORT) {
      // A client gives up (e.g. wamp.error.cannot_authenticate): end silently, since no response to an
      // ABORT is expected (WAMP spec, Basic Profile, Session Establishment).
      this.#leave(false);
      this.#state = 'closed';
      this.#stopTimers();
      return this.connection.close(CLOSE_NORMAL, m.reason);
    }
    switch (this.#state) {
      case 'new':
        if (m.type !== T.HELLO) throw new ProtocolViolation(`message type ${m.type} before HELLO`);
        this.#roles = isDict(m.details.roles) ? m.details.roles : {};
        return this.host.hello(this, m);
      case 'challenging':
        if (m.type !== T.AUTHENTICATE)
          throw new ProtocolViolation(`message type ${m.type} instead of AUTHENTICATE`);
        return this.host.authenticate(this, m.signature);
      case 'closing':
        // Waiting for the echo of our GOODBYE; whatever else the client still sends is moot.
        if (m.type === T.GOODBYE) this.#reset();
        return;
      case 'established':
        if (m.type === T.HELLO) throw new ProtocolViolation('HELLO in an established session');
        if (m.type === T.AUTHENTICATE) throw new ProtocolViolation('AUTHENTICATE in an established session');
        if (m.type === T.GOODBYE) {
          this.send(out.goodbye(WampUri.CLOSE_GOODBYE_AND_OUT));
          this.#leave(false);
          return this.#reset();
        }
        return this.#realm!.handle(this, m);
    }
  }

  /**
   * Back to the start: the transport may carry a new session (WAMP spec, Basic Profile, Transport and Session
   * Lifetime).
   */
  #reset(): void {
    clearTimeout(this.#goodbyeTimer);
    this.#state = 'new';
    this.#awaitHello();
  }

  /** Leaves the realm (if joined) and frees the session ID. */
  #leave(quiet: boolean): void {
    const realm = this.#realm;
    this.#realm = undefined;
    this.#pending = undefined;
    realm?.leave(this, quiet);
    if (this.id !== 0) this.host.release(this.id);
    this.id = 0;
  }

  /**
   * Encodes `message` for this session's serializer and writes it. A message this serializer cannot
   * encode (the ingress checks should make that impossible), or longer than the client accepts (a
   * RawSocket client's limit), is logged and dropped for this session alone, so that one peer never
   * breaks a delivery to others or the handler that sends it; a final RESULT becomes an ERROR, so that
   * the caller is not left waiting.
   */
  send(message: Outgoing): void {
    let frame: Frame;
    try {
      frame = message.frame(this.serializer);
    } catch (err) {
      const reason = "the result cannot be encoded with this session's serializer";
      this.host.logger.error(
        { err, session: this.id, type: message.items[0], serializer: this.serializer.protocol },
        'WAMP message not encodable for this session: dropped',
      );
      return this.#undelivered(message, WampUri.INVALID_ARGUMENT, reason);
    }
    const max = this.connection.maxMessageBytes;
    if (max !== undefined && byteLength(frame.text) > max) {
      this.host.logger.warn(
        { session: this.id, type: message.items[0], bytes: byteLength(frame.text), max },
        'WAMP message longer than the client accepts: dropped',
      );
      return this.#undelivered(
        message,
        WampUri.PAYLOAD_SIZE_EXCEEDED,
        `the result is longer than ${max} bytes`,
      );
    }
    this.connection.send(frame);
  }

  /** A final RESULT that could not be sent: the caller gets ERROR `uri` instead. */
  #undelivered(message: Outgoing, uri: string, reason: string): void {
    const [type, request, details] = message.items;
    if (type === T.RESULT && typeof request === 'number' && !(isDict(details) && details.progress)) {
      this.send(out.refusal(T.CALL, request, uri, reason));
    }
  }

  /** Sends CHALLENGE and waits for AUTHENTICATE. */
  challenge(method: string, extra: Dict, pending: PendingAuth): void {
    this.#state = 'challenging';
    this.#pending = pending;
    this.send(out.challenge(method, extra));
  }

  get pending(): PendingAuth | undefined {
    return this.#pending;
  }

  /** Sends WELCOME and joins `realm`. `this.id` was assigned at HELLO. */
  welcome(realm: Realm, principal: Principal, details: Dict): void {
    this.#principal = principal;
    this.authid = principal.authid;
    this.authrole = principal.authrole;
    this.#pending = undefined;
    this.#state = 'established';
    clearTimeout(this.#helloTimer);
    this.#helloTimer = undefined;
    this.#realm = realm;
    this.send(out.welcome(this.id, details));
    realm.join(this);
  }

  /** ABORT with `reason`, drop all state, close the transport. */
  abort(reason: string, message: string, code = CLOSE_NORMAL): void {
    if (this.#state === 'closed') return;
    this.host.logger.debug({ session: this.id, reason, message }, 'WAMP session aborted');
    this.send(out.abort(reason, message));
    this.#leave(false);
    this.#state = 'closed';
    this.#stopTimers();
    this.connection.close(code, reason);
  }

  kill(reason: string, message: string | undefined, quiet: boolean): void {
    if (this.#state !== 'established') return;
    this.send(out.goodbye(reason, message === undefined ? {} : { message }));
    this.#leave(quiet);
    this.#state = 'closing';
    this.#goodbyeTimer = setTimeout(() => this.connection.close(CLOSE_NORMAL, reason), GOODBYE_TIMEOUT_MS);
  }

  /**
   * Router shutdown: the transport closes with 1001 and no GOODBYE, because a GOODBYE or ABORT stops
   * autobahn-js and wampy from reconnecting (docs/wamp.md, What the router implements).
   */
  shutdown(): void {
    this.#stopTimers();
    this.#leave(true);
    this.#state = 'closed';
    this.connection.close(CLOSE_GOING_AWAY, 'server shutting down');
  }

  has(role: ClientRole, feature: string): boolean {
    const r = this.#roles[role];
    if (!isDict(r) || !isDict(r.features)) return false;
    return r.features[feature] === true;
  }

  details(): Dict {
    const p = this.#principal;
    return {
      session: this.id,
      realm: this.#realm?.name,
      authid: this.authid,
      authrole: this.authrole,
      authmethod: p?.authmethod,
      authprovider: p?.authprovider,
      authextra: p?.authextra ?? {},
      serializer: this.serializer.name,
      transport: {
        type: this.connection.transportType ?? 'websocket',
        protocol: this.serializer.protocol,
        peer: this.connection.remoteAddress,
      },
    };
  }
}

function byteLength(text: string | Buffer): number {
  return typeof text === 'string' ? Buffer.byteLength(text) : text.length;
}
