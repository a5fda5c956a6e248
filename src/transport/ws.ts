import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { Connection, Session, UpgradeRequest } from '../core/connection.js';
import type { Frame } from '../core/frame.js';
import { HttpError, httpError } from '../http/errors.js';
import { refuseOnSocket } from '../http/raw-refusal.js';
import { decodePathParams, parseRequestTarget } from '../http/request-target.js';
import type { ConnectionLimits } from './connection-limits.js';
import { encodeBinaryFrame, encodeTextFrame } from './frame.js';
import { LiveConnections, QueuedConnection } from './queued-connection.js';
import { FlushScheduler } from './write-queue.js';

/** A protocol reachable over WebSocket at the paths `pattern` matches (captures become `params`). */
export interface WebSocketRoute {
  readonly pattern: RegExp;
  /**
   * Subprotocols the route speaks. When set, the first one the client offers that is in this list is
   * chosen (the client's order wins), and a client offering none of them is refused with HTTP 400.
   */
  readonly protocols?: readonly string[];
  open(connection: Connection, request: UpgradeRequest): Session;
}

export interface WebSocketTransportOptions {
  logger: Logger;
  /** Messages above this size close the socket with 1009 before any protocol sees them. */
  maxPayloadBytes: number;
  /** Bytes a connection may have waiting to be written; past it the connection overflows. */
  maxBufferedBytes: number;
  /** Checked on every upgrade before it happens; an accepted connection is counted until it closes. */
  limits?: ConnectionLimits;
}

const kConnection = Symbol('herald.connection');
/** The subprotocol picked for an upgrade request, read back by ws's `handleProtocols`. */
const chosenProtocol = new WeakMap<IncomingMessage, string>();
type TaggedWebSocket = WebSocket & { [kConnection]: WsConnection };

/**
 * WebSocket connections on our own http.Server (ws in noServer mode): upgrades routed by path, writes
 * coalesced per connection per event-loop turn, buffered bytes capped per connection.
 */
export class WebSocketTransport {
  readonly #o: WebSocketTransportOptions;
  readonly #wss: WebSocketServer;
  readonly #routes: WebSocketRoute[] = [];
  readonly #live: LiveConnections<WsConnection>;
  readonly scheduler = new FlushScheduler();
  #accepting = true;

  constructor(options: WebSocketTransportOptions) {
    this.#o = options;
    this.#live = new LiveConnections(options.limits);
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: options.maxPayloadBytes,
      handleProtocols: (_offered, req) => chosenProtocol.get(req) || false,
    });
    // A handshake ws refuses (wrong method, no or bad Sec-WebSocket-Key or -Version, a malformed
    // Sec-WebSocket-Protocol) is answered here so that every refusal is JSON, like every HTTP error.
    this.#wss.on('wsClientError', (err: Error, socket: Duplex, req: IncomingMessage) => {
      if (req.method !== 'GET') {
        return refuseOnSocket(socket, httpError('UPGRADE_METHOD_NOT_ALLOWED', err.message), { Allow: 'GET' });
      }
      const version = req.headers['sec-websocket-version'];
      // RFC 6455 section 4.4, "Supporting Multiple Versions of WebSocket Protocol".
      if (version !== '13' && version !== '8') {
        const refusal = httpError('UPGRADE_VERSION_UNSUPPORTED', err.message);
        return refuseOnSocket(socket, refusal, { 'Sec-WebSocket-Version': '13, 8' });
      }
      refuseOnSocket(socket, httpError('UPGRADE_INVALID', err.message));
    });
  }

  route(route: WebSocketRoute): void {
    this.#routes.push(route);
  }

  attach(server: Server): void {
    server.on('connection', () => this.scheduler.connectionArrived());
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // A fault here must cost this one client, never the process and everyone else on it.
      try {
        this.#upgrade(req, socket, head);
      } catch (err) {
        this.#o.logger.error({ err, target: req.url }, 'websocket upgrade failed');
        refuseOnSocket(socket, httpError('INTERNAL'));
      }
    });
  }

  get connectionCount(): number {
    return this.#live.size;
  }

  /** Stops accepting upgrades. */
  refuseNew(): void {
    this.#accepting = false;
  }

  /** Resolves once every connection has closed, or cuts the rest after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    this.scheduler.flush();
    await this.#live.drain(timeoutMs);
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!this.#accepting) return refuseOnSocket(socket, httpError('SHUTTING_DOWN'));
    // The limits come before anything else is read from the request: a refused client costs no work.
    const limits = this.#o.limits;
    let address = '';
    if (limits) {
      const admitted = limits.admit(req);
      if (typeof admitted !== 'string') return refuseOnSocket(socket, admitted.error, admitted.headers);
      address = admitted;
    }
    let url: URL;
    try {
      url = parseRequestTarget(req.url);
    } catch (err) {
      return refuse(socket, err);
    }
    for (const route of this.#routes) {
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      let params: string[];
      try {
        params = decodePathParams(match);
      } catch (err) {
        return refuse(socket, err);
      }
      let protocol = '';
      if (route.protocols) {
        const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
        protocol = offered.find((p) => route.protocols!.includes(p)) ?? '';
        if (!protocol) {
          return refuseOnSocket(socket, httpError('SUBPROTOCOL_REQUIRED', route.protocols.join(', ')));
        }
        chosenProtocol.set(req, protocol);
      }
      // ws writes the 101 response inside handleUpgrade; corked, it leaves in one system call with the
      // protocol's first frames at the connection's first flush (a refusal ends the socket, which uncorks).
      socket.cork();
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        const connection = new WsConnection(this, ws, req.socket, address);
        (ws as TaggedWebSocket)[kConnection] = connection;
        this.#live.add(connection);
        connection.holdUntilFlush();
        ws.on('message', onMessage);
        ws.on('ping', onActivity);
        ws.on('pong', onActivity);
        ws.on('close', onClose);
        ws.on('error', onError);
        try {
          connection.session = route.open(connection, {
            params,
            query: url.searchParams,
            protocol,
            headers: req.headers,
          });
        } catch (err) {
          this.#o.logger.error({ err, target: req.url }, 'websocket session failed to open');
          ws.terminate();
        }
      });
      return;
    }
    refuseOnSocket(socket, httpError('NO_WEBSOCKET_ENDPOINT', url.pathname));
  }

  forget(connection: WsConnection): void {
    // Every way a connection ends (its close, its cut, overflow, shutdown) comes through here once.
    this.#live.forget(connection);
  }

  get options(): WebSocketTransportOptions {
    return this.#o;
  }
}

/** One client socket. Frames are queued and written together once per event-loop turn. */
class WsConnection extends QueuedConnection {
  #corked = false;

  constructor(
    readonly transport: WebSocketTransport,
    readonly ws: WebSocket,
    socket: Socket,
    address: string,
  ) {
    super(transport, socket, address);
  }

  send(frame: Frame): void {
    if (this.closing) return;
    frame.wire ??=
      typeof frame.text === 'string' ? encodeTextFrame(frame.text) : encodeBinaryFrame(frame.text);
    this.write(frame.wire);
  }

  /** The socket is corked (see the upgrade): keep it so until the first flush. */
  holdUntilFlush(): void {
    this.#corked = true;
    this.transport.scheduler.markDirty(this);
  }

  override flush(): void {
    super.flush();
    if (this.#corked) {
      this.#corked = false;
      this.socket.uncork();
    }
  }

  protected end(code: number, reason: string): void {
    this.ws.close(code, truncateReason(reason));
  }

  protected cut(): void {
    this.ws.terminate();
  }

  protected get gone(): boolean {
    return this.ws.readyState === this.ws.CLOSED;
  }
}

function connectionOf(ws: WebSocket): WsConnection {
  return (ws as TaggedWebSocket)[kConnection];
}

function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const connection = connectionOf(this);
  const buf = data as Buffer;
  connection.traffic.messagesIn++;
  connection.traffic.bytesIn += buf.length;
  if (isBinary) connection.session?.onBinary(buf);
  else connection.session?.onMessage(buf.toString('utf8'), buf.length);
}

function onActivity(this: WebSocket): void {
  connectionOf(this).session?.onActivity();
}

function onClose(this: WebSocket, code: number): void {
  connectionOf(this).closed(code);
}

function onError(this: WebSocket, err: Error): void {
  connectionOf(this).transport.options.logger.debug({ err }, 'websocket error');
}

/** Close reasons are limited to 123 bytes (RFC 6455 §5.5). */
function truncateReason(reason: string): string {
  let r = reason;
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}

/** Answers an `HttpError` met before the upgrade; anything else is a fault and is rethrown. */
function refuse(socket: Duplex, err: unknown): void {
  if (!(err instanceof HttpError)) throw err;
  refuseOnSocket(socket, err);
}
