import type { Frame } from './frame.js';
import type { Traffic } from './traffic.js';

/**
 * What a protocol sees of a client connection. The transport implements it; protocols never touch
 * sockets directly, so they can be tested with a fake connection that records frames.
 */
export interface Connection {
  /** Queues a frame. Frames queued within one event-loop turn leave in one write. No-op once closed. */
  send(frame: Frame): void;
  /**
   * Flushes queued frames, then starts the close handshake with `code` and `reason` (≤ 123 bytes).
   * The protocol's `onClose` runs once the socket is gone. Idempotent.
   */
  close(code: number, reason: string): void;
  /**
   * Writes what is queued now and resolves once the socket has room again (its buffer under half the
   * cap of buffered bytes) or is gone: for one who sends a connection many frames at once (a replay),
   * so that a client reading at its own pace is not taken for one that stopped reading.
   */
  drained?(): Promise<void>;
  /** Remote address, for logs. */
  readonly remoteAddress: string;
  /** The transport, as the WAMP meta API names it; `websocket` when not given. */
  readonly transportType?: 'websocket' | 'rawsocket';
  /**
   * The longest message the client accepts, when it said so (in RawSocket's handshake): the protocol
   * must not send a longer one, and the transport drops any that comes.
   */
  readonly maxMessageBytes?: number;
  /**
   * The longest message the transport lets the client send, when it has a limit of its own
   * (RawSocket's): the protocol checks messages against it instead of its own default.
   */
  readonly maxIncomingBytes?: number;
  /**
   * Counts this connection in `traffic` (its app's, for the metrics): opened now, and from now on its
   * messages in and out and, at the end, its close code. The protocol calls it once it knows the app;
   * later calls, and calls once the socket is gone, do nothing. Connections that are never counted
   * in an app (unknown key or realm) appear only in the node's totals.
   */
  countIn?(traffic: Traffic): void;
}

/** What a protocol returns for each accepted connection: the transport feeds it events. */
export interface Session {
  /** A complete text message; `bytes` is its size on the wire. */
  onMessage(text: string, bytes: number): void;
  /** A complete binary message. */
  onBinary(data: Buffer): void;
  /** A WebSocket ping or pong frame (a RawSocket PING or PONG) arrived: the client is alive. */
  onActivity(): void;
  /**
   * The client stopped reading and its buffered bytes passed the cap. The protocol may send a last
   * frame and call `close`; the transport then cuts the socket.
   */
  onOverflow(): void;
  /** The socket is gone; called exactly once. */
  onClose(code: number): void;
}

/** The upgrade request as a protocol needs it (for RawSocket: no params, query or headers). */
export interface UpgradeRequest {
  /** Captures of the route that matched the path (e.g. the app key). */
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  /**
   * The WebSocket subprotocol agreed on, for routes that offer some; '' otherwise. Over RawSocket, the
   * subprotocol of the serializer the handshake agreed on.
   */
  readonly protocol: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}
