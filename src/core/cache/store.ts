/** The last event published to a cache channel (Pusher docs, Cache channels). */
export interface CachedEvent {
  readonly event: string;
  readonly data: string;
}

/**
 * Last events of cache channels, each kept for a time-to-live. A cluster implementation shares them
 * between nodes, so a subscriber on any node gets the event published through any node.
 */
export interface LastEventStore {
  /** Replaces the channel's last event. */
  set(namespace: string, channel: string, event: CachedEvent, ttlMs: number): Promise<void>;
  /** The channel's last event and the milliseconds it has left, or undefined when none is live. */
  get(namespace: string, channel: string): Promise<{ event: CachedEvent; ttlMs: number } | undefined>;
  /** Clears the expiry timer. Idempotent. */
  close(): Promise<void>;
}
