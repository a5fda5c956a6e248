import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Connection, Session, UpgradeRequest } from '../core/connection.js';
import type { Frame } from '../core/frame.js';
import type { ConnectionLimits } from './connection-limits.js';
import { LiveConnections, QueuedConnection } from './queued-connection.js';
import {
  encodeRawSocketFrame,
  handshakeReply,
  lengthExponent,
  RAWSOCKET_MAGIC,
  RAWSOCKET_SERIALIZERS,
  type RawSocketFrame,
  RawSocketFrameReader,
  RawSocketFrameType,
  RawSocketRefusal,
  RawSocketViolation,
  readHandshake,
  refusalReply,
} from './rawsocket-framing.js';
import { FlushScheduler } from './write-queue.js';

/** The protocol served over RawSocket: WAMP, by the subprotocol names of its serializers. */
export interface RawSocketRoute {
  /** The serializers it speaks, by WebSocket subprotocol (`RAWSOCKET_SERIALIZERS` maps IDs to them). */
  readonly protocols: readonly string[];
  open(connection: Connection, request: UpgradeRequest): Session;
}

export interface RawSocketTransportOptions {
  logger: Logger;
  route: RawSocketRoute;
  /**
   * The longest message a client may send. The handshake announces the next power of two (at most
   * 16 MiB); a longer frame fails the connection, and the protocol refuses messages between the two.
   */
  maxMessageBytes: number;
  /** Bytes a connection may have waiting to be written; past it the connection overflows. */
  maxBufferedBytes: number;
  /** How long a client may take to send its 4-byte handshake. */
  handshakeTimeoutMs: number;
  /** Checked at each handshake; an accepted connection is counted until it closes. */
  limits?: ConnectionLimits;
}

/**
 * The least a client must accept: the router's WELCOME takes about 700 bytes in JSON, so a client
 * announcing 512 bytes could not even join (docs/wamp.md, "RawSocket").
 */
const MIN_CLIENT_LENGTH = 1024;
/** The cut after an error reply, if the client does not close its side first. */
const CLOSE_GRACE_MS = 1000;
/** Close codes for the traffic counters, as a WebSocket would have closed. */
const CLOSED_CLEANLY = 1000;
const CLOSED_ABNORMALLY = 1006;
const FAILED_PROTOCOL = 1002;
const FAILED_UTF8 = 1007;

const NO_QUERY = new URLSearchParams();

/**
 * WAMP over RawSocket (WAMP spec, Advanced Profile, RawSocket Transport) on TCP sockets handed over by
 * a listener of its own or by the public port (`SharedPort`): the handshake with its error replies,
 * length-prefixed frames both ways, PING answered with PONG. Writes are coalesced and buffered bytes
 * capped as for WebSocket connections, and the same connection limits apply.
 */
export class RawSocketTransport {
  readonly #o: RawSocketTransportOptions;
  readonly #live: LiveConnections<RawSocketConnection>;
  /** Sockets still to send their handshake. */
  readonly #handshaking = new Set<Socket>();
  readonly scheduler = new FlushScheduler();
  /** The router's length exponent, announced in every handshake reply. */
  readonly #exponent: number;
  /** The longest frame a client may send: what the exponent announces. */
  readonly maxFrameBytes: number;
  #accepting = true;

  constructor(options: RawSocketTransportOptions) {
    this.#o = options;
    this.#live = new LiveConnections(options.limits);
    this.#exponent = lengthExponent(options.maxMessageBytes);
    this.maxFrameBytes = 2 ** (9 + this.#exponent);
  }

  get options(): RawSocketTransportOptions {
    return this.#o;
  }

  get connectionCount(): number {
    return this.#live.size;
  }

  /**
   * Serves `socket`. `head` holds bytes already read from it (by `SharedPort`, which saw the first
   * byte); the handshake is read from them and what follows.
   */
  accept(socket: Socket, head?: Buffer): void {
    this.scheduler.connectionArrived();
    socket.setNoDelay(true);
    this.#handshaking.add(socket);
    let received: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      this.#o.logger.debug({ remoteAddress: socket.remoteAddress }, 'RawSocket handshake timed out');
      socket.destroy();
    }, this.#o.handshakeTimeoutMs);
    const done = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', done);
      this.#handshaking.delete(socket);
    };
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      // Not RawSocket: fail the connection at once, without a reply (WAMP spec, RawSocket Transport).
      if (received[0] !== RAWSOCKET_MAGIC) {
        done();
        this.#o.logger.debug({ remoteAddress: socket.remoteAddress }, 'not a RawSocket handshake');
        socket.destroy();
        return;
      }
      if (received.length < 4) return;
      done();
      this.#handshake(socket, received.subarray(0, 4), received.subarray(4));
    };
    socket.on('error', onSocketError(this.#o.logger));
    socket.on('data', onData);
    socket.on('close', done);
    if (head !== undefined && head.length > 0) onData(head);
  }

  #handshake(socket: Socket, bytes: Buffer, rest: Buffer): void {
    const handshake = readHandshake(bytes, MIN_CLIENT_LENGTH);
    if (!handshake.ok) return this.#refuse(socket, handshake.refusal, handshake.why);
    const protocol = RAWSOCKET_SERIALIZERS[handshake.serializer]!;
    if (!this.#o.route.protocols.includes(protocol)) {
      return this.#refuse(
        socket,
        RawSocketRefusal.SERIALIZER_UNSUPPORTED,
        `serializer ${handshake.serializer}`,
      );
    }
    // The spec's one refusal for capacity stands for every limit, and for a server shutting down.
    if (!this.#accepting) return this.#refuse(socket, RawSocketRefusal.CONNECTION_LIMIT, 'shutting down');
    let address = '';
    const limits = this.#o.limits;
    if (limits) {
      const admitted = limits.admit({ socket, headers: {} });
      if (typeof admitted !== 'string') {
        return this.#refuse(socket, RawSocketRefusal.CONNECTION_LIMIT, admitted.message);
      }
      address = admitted;
    }
    socket.write(handshakeReply(handshake.serializer, this.#exponent));
    const connection = new RawSocketConnection(this, socket, address, handshake.maxLength, protocol);
    this.#live.add(connection);
    socket.on('close', (hadError: boolean) =>
      connection.closed(hadError ? CLOSED_ABNORMALLY : CLOSED_CLEANLY),
    );
    socket.on('end', () => connection.close(CLOSED_CLEANLY, 'the client ended its side'));
    try {
      connection.session = this.#o.route.open(connection, {
        params: [],
        query: NO_QUERY,
        protocol,
        headers: {},
      });
    } catch (err) {
      this.#o.logger.error({ err }, 'RawSocket session failed to open');
      socket.destroy();
      return;
    }
    socket.on('data', (chunk: Buffer) => connection.receive(chunk));
    if (rest.length > 0) connection.receive(rest);
  }

  /** The error reply, then the end of the connection (cut if the client does not close its side). */
  #refuse(socket: Socket, refusal: RawSocketRefusal, why: string): void {
    this.#o.logger.debug(
      { remoteAddress: socket.remoteAddress, refusal, why },
      'RawSocket handshake refused',
    );
    socket.end(refusalReply(refusal));
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Stops accepting connections: a handshake from now on gets the connection-limit reply. */
  refuseNew(): void {
    this.#accepting = false;
  }

  /** Resolves once every connection has closed, or cuts the rest after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    for (const socket of this.#handshaking) socket.destroy();
    this.scheduler.flush();
    await this.#live.drain(timeoutMs);
  }

  forget(connection: RawSocketConnection): void {
    // Every way a connection ends (its close, its cut, overflow, shutdown) comes through here once.
    this.#live.forget(connection);
  }
}

function onSocketError(logger: Logger) {
  return (err: Error) => logger.debug({ err }, 'RawSocket error');
}

/** One client after its handshake. Frames are queued and written together once per event-loop turn. */
class RawSocketConnection extends QueuedConnection {
  readonly transportType = 'rawsocket' as const;
  /** `wamp.rawsocketMaxMessageBytes`: what the session lets a client of this transport send. */
  readonly maxIncomingBytes: number;
  readonly #reader: RawSocketFrameReader;
  readonly #text: boolean;

  constructor(
    readonly transport: RawSocketTransport,
    socket: Socket,
    address: string,
    /** The longest message the client accepts, from its handshake. */
    readonly maxMessageBytes: number,
    protocol: string,
  ) {
    super(transport, socket, address);
    this.maxIncomingBytes = transport.options.maxMessageBytes;
    this.#reader = new RawSocketFrameReader(transport.maxFrameBytes);
    this.#text = protocol === 'wamp.2.json';
  }

  send(frame: Frame): void {
    if (this.closing) return;
    frame.rawWire ??= encodeRawSocketFrame(RawSocketFrameType.MESSAGE, frame.text);
    // The session checks first and answers in its own way; this is the transport's guarantee.
    if (frame.rawWire.length - 4 > this.maxMessageBytes) {
      const bytes = frame.rawWire.length - 4;
      this.transport.options.logger.debug({ bytes }, 'RawSocket message over the client limit');
      return;
    }
    this.write(frame.rawWire);
  }

  /** RawSocket has no close frame: what is queued is written, then the socket ends. */
  protected end(): void {
    this.socket.end();
  }

  protected cut(): void {
    this.socket.destroy();
  }

  protected get gone(): boolean {
    return this.socket.destroyed;
  }

  /** The bytes `chunk` adds to the stream: each complete frame is handled in turn. */
  receive(chunk: Buffer): void {
    let frames: RawSocketFrame[];
    try {
      frames = this.#reader.push(chunk);
    } catch (err) {
      if (!(err instanceof RawSocketViolation)) throw err;
      return this.#fail(FAILED_PROTOCOL, err.message);
    }
    for (const { type, payload } of frames) {
      if (this.closing) return;
      if (type === RawSocketFrameType.PING) {
        // Exactly one PONG echoing the payload (WAMP spec, RawSocket Transport, Framing).
        this.write(encodeRawSocketFrame(RawSocketFrameType.PONG, payload));
        this.session?.onActivity();
      } else if (type === RawSocketFrameType.PONG) {
        this.session?.onActivity();
      } else {
        this.traffic.messagesIn++;
        this.traffic.bytesIn += payload.length;
        if (!this.#text) this.session?.onBinary(payload);
        else if (isUtf8(payload)) this.session?.onMessage(payload.toString('utf8'), payload.length);
        else return this.#fail(FAILED_UTF8, 'a JSON message that is not UTF-8');
      }
    }
  }

  /** Fails the connection (WAMP spec, RawSocket Transport): cut at once, nothing more is read or written. */
  #fail(code: number, why: string): void {
    this.transport.options.logger.debug(
      { remoteAddress: this.remoteAddress, why },
      'RawSocket connection failed',
    );
    this.fail(code);
  }
}
