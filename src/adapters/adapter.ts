/**
 * Moves messages between the nodes of a cluster. Adapters know nothing of protocols: a message is an
 * opaque, already serialised text tagged with a namespace (`pusher:<appId>`, `wamp:<realm>`) and a
 * channel, plus the id of one local subscriber to skip. Questions to every node go through one generic
 * primitive (`request`), answered by handlers the protocols register by operation name.
 */

import type { StreamPosition } from '../core/channel-history/store.js';

export type Namespace = string;
export type NodeId = string;

export interface ChannelMessage {
  readonly namespace: Namespace;
  readonly channel: string;
  /** The frame exactly as subscribers receive it. */
  readonly text: string;
  /** A subscriber (socket id) that must not receive it. */
  readonly except?: string | undefined;
  /**
   * An event of a channel that keeps a stream (docs/recovery.md): its position there, or null when
   * the store could not record it. Undefined for every other message.
   */
  readonly stream?: StreamPosition | null | undefined;
  /**
   * It came from another node over the bus: untrusted, so each handler checks `text` before use and
   * throws `MalformedBusMessage` (see bus-payload.ts) when it cannot be delivered.
   */
  readonly remote?: boolean;
}

/** Called on each node that has interest in the message's channel, once per message. */
export type MessageHandler = (message: ChannelMessage) => void;

/**
 * Answers one operation for this node; the value must be plain JSON. The payload of another node's
 * request is untrusted: a handler checks it (`busFields`) and throws `MalformedBusMessage` when it
 * cannot be used, and the message is dropped.
 */
export type RequestHandler = (payload: unknown) => unknown | Promise<unknown>;

export interface RequestResult<T> {
  /** This node's answer first, then the other nodes' in arrival order. */
  readonly answers: T[];
  /** False when some live node did not answer before the deadline. */
  readonly complete: boolean;
}

export interface CloseOptions {
  /**
   * Leaves this node's presence and occupancy entries to the other nodes, which clean up after it as
   * after a dead node once `handoverMs` has passed: its clients, told to reconnect, come back on them
   * meanwhile without leaving and joining again.
   */
  handoverMs?: number;
}

export interface Adapter {
  /** This node's id, unique in the cluster. */
  readonly nodeId: NodeId;
  /** Ids of the other nodes currently alive. */
  readonly peers: NodeId[];
  /**
   * Adds a handler that delivers messages to this node's subscribers; each protocol adds one, before
   * `start`, and every handler gets every message (it picks the namespaces it serves).
   */
  onMessage(handler: MessageHandler): void;
  /**
   * Delivers `message` to every node with interest in its channel, this node included (locally,
   * synchronously, before the promise settles). Resolves when handed to the broker; rejects when the
   * broker refused it (local delivery has happened anyway).
   */
  publish(message: ChannelMessage): Promise<void>;
  /**
   * This node has its first local subscriber to the channel: start receiving its messages. Rejects when
   * the broker refused; the caller rolls the subscription back.
   */
  addInterest(namespace: Namespace, channel: string): Promise<void>;
  /** This node's last local subscriber left: stop receiving the channel's messages. */
  removeInterest(namespace: Namespace, channel: string): Promise<void>;
  /** Registers this node's answer to `op` (one handler per operation). */
  handle(op: string, handler: RequestHandler): void;
  /**
   * Runs `op` on every live node, this one included, and collects the answers until all have answered
   * or the adapter's request deadline passes.
   */
  request<T>(op: string, payload: unknown): Promise<RequestResult<T>>;
  /** Runs `op` on every live node, this one included, without waiting for answers. */
  broadcast(op: string, payload: unknown): Promise<void>;
  /**
   * Called once for each node that stopped sending heartbeats (crashed or cut off); the survivors clean
   * up after it. Not called for nodes that said goodbye.
   */
  onNodeDown(handler: (nodeId: NodeId) => void): void;
  start(): Promise<void>;
  /** Idempotent; says goodbye to the other nodes and clears every timer and subscription it owns. */
  close(options?: CloseOptions): Promise<void>;
}
