/**
 * Which nodes have subscribers to each channel, so that a channel's occupied and vacated transitions
 * are decided once for the whole cluster (and `channel_occupied`/`channel_vacated` webhooks fire once).
 * Each node reports only its own first and last local subscriber; every call is atomic per channel.
 */
export interface OccupancyStore {
  /** This node got its first subscriber; true when the channel was empty on every node. */
  occupy(namespace: string, channel: string): Promise<boolean>;
  /** This node lost its last subscriber; true when no node has subscribers left. */
  vacate(namespace: string, channel: string): Promise<boolean>;
  /** A node died: forget its channels; resolves with those now empty everywhere, each once cluster-wide. */
  removeNode(nodeId: string): Promise<{ namespace: string; channel: string }[]>;
  close(): Promise<void>;
}

/** A single node: its own registry is the whole truth, so every report is a transition. */
export class LocalOccupancy implements OccupancyStore {
  async occupy(): Promise<boolean> {
    return true;
  }

  async vacate(): Promise<boolean> {
    return true;
  }

  async removeNode(): Promise<{ namespace: string; channel: string }[]> {
    return [];
  }

  async close(): Promise<void> {}
}
