import type { App } from '../../core/apps/app.js';

/**
 * What happens on channels, as webhooks report it (Pusher docs, Webhooks). The protocol calls these at
 * the moment a transition is decided; the receiver owns delays, batching and delivery and must not
 * throw.
 */
export interface ChannelEvents {
  /** The channel got its first subscriber. */
  channelOccupied(app: App, channel: string): void;
  /** The channel lost its last subscriber. */
  channelVacated(app: App, channel: string): void;
  /** A user's first connection joined a presence channel. */
  memberAdded(app: App, channel: string, userId: string): void;
  /** A user's last connection left a presence channel. */
  memberRemoved(app: App, channel: string, userId: string): void;
  /** A client event was accepted; `data` is the sender's data as JSON text unless it was a string. */
  clientEvent(app: App, event: ClientEventRecord): void;
  /** A subscriber found a cache channel empty. */
  cacheMiss(app: App, channel: string): void;
  /** A non-presence channel's subscription count changed (apps with `subscriptionCount`). */
  subscriptionCount(app: App, channel: string, count: number): void;
}

export interface ClientEventRecord {
  channel: string;
  event: string;
  data: string;
  socketId: string;
  /** The sender's presence user id, on presence channels. */
  userId?: string;
}

/** Ignores everything: for servers without webhooks. */
export const NO_CHANNEL_EVENTS: ChannelEvents = {
  channelOccupied() {},
  channelVacated() {},
  memberAdded() {},
  memberRemoved() {},
  clientEvent() {},
  cacheMiss() {},
  subscriptionCount() {},
};
