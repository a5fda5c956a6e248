/**
 * Moves messages between the nodes of a cluster. Adapters know nothing of protocols: a message is an
 * opaque, already serialised text tagged with a namespace (`pusher:<appId>`, `wamp:<realm>`) and a
 * channel, plus the id of one local subscriber to skip.
 */

export type Namespace = string;

export interface ChannelMessage {
  readonly namespace: Namespace;
  readonly channel: string;
  /** The frame exactly as subscribers receive it. */
  readonly text: string;
  /** A subscriber (socket id) that must not receive it. */
  readonly except?: string | undefined;
}

/** Called on each node that has interest in the message's channel, once per message. */
export type MessageHandler = (message: ChannelMessage) => void;

export interface Adapter {
  /** Sets the handler that delivers messages to this node's subscribers. Called once, before `start`. */
  onMessage(handler: MessageHandler): void;
  /**
   * Delivers `message` to every node with interest in its channel, this node included (locally,
   * synchronously, before the promise settles). Resolves when handed to the transport; rejects when
   * the transport refused it.
   */
  publish(message: ChannelMessage): Promise<void>;
  /** This node has its first local subscriber to the channel: start receiving its messages. */
  addInterest(namespace: Namespace, channel: string): Promise<void>;
  /** This node's last local subscriber left: stop receiving the channel's messages. */
  removeInterest(namespace: Namespace, channel: string): Promise<void>;
  start(): Promise<void>;
  /** Idempotent; clears every timer and subscription the adapter owns. */
  close(): Promise<void>;
}
