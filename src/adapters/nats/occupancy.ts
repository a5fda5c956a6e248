import type { OccupancyStore } from '../../core/channels/occupancy.js';
import { KeyedChain } from '../../core/keyed-chain.js';
import type { NatsClient } from './connection.js';
import { bucketName, fromKeyToken, KvBucket, keyToken } from './kv.js';

/**
 * Occupancy in a JetStream key-value bucket: per channel, the set of nodes with subscribers, changed by
 * compare-and-set; per node and channel, an index key so survivors can vacate a dead node's channels.
 * This node's reports for one channel run one after another, in the order they were made.
 */
export class NatsOccupancyStore implements OccupancyStore {
  readonly #bucket: KvBucket;
  /** This node's reports per channel token, run one after another. */
  readonly #queues = new KeyedChain();

  constructor(
    client: NatsClient,
    readonly nodeId: string,
    readonly prefix: string,
  ) {
    this.#bucket = new KvBucket(client, bucketName(prefix, 'occupancy'));
  }

  occupy(namespace: string, channel: string): Promise<boolean> {
    const token = keyToken(`${namespace}\0${channel}`);
    return this.#queues.run(token, async () => {
      await this.#bucket.put(this.#indexKey(this.nodeId, token), '');
      return this.#bucket.change(`ch.${token}`, (value) => {
        const nodes = new Set(parse(value));
        if (nodes.has(this.nodeId)) return { result: false };
        nodes.add(this.nodeId);
        return { result: nodes.size === 1, value: JSON.stringify([...nodes]) };
      });
    });
  }

  vacate(namespace: string, channel: string): Promise<boolean> {
    const token = keyToken(`${namespace}\0${channel}`);
    return this.#queues.run(token, async () => {
      const vacated = await this.#without(token, this.nodeId);
      await this.#bucket.delete(this.#indexKey(this.nodeId, token));
      return vacated;
    });
  }

  async removeNode(nodeId: string): Promise<{ namespace: string; channel: string }[]> {
    const prefix = this.#indexKey(nodeId, '');
    const vacated: { namespace: string; channel: string }[] = [];
    for (const indexKey of await this.#bucket.keys(`${prefix}>`)) {
      const token = indexKey.slice(prefix.length);
      if (await this.#without(token, nodeId)) {
        const text = fromKeyToken(token);
        const cut = text.indexOf('\0');
        vacated.push({ namespace: text.slice(0, cut), channel: text.slice(cut + 1) });
      }
      await this.#bucket.delete(indexKey);
    }
    return vacated;
  }

  close(): Promise<void> {
    return this.#bucket.close();
  }

  /** Takes `nodeId` out of the channel; true when this emptied it (once, whoever else tries). */
  #without(token: string, nodeId: string): Promise<boolean> {
    return this.#bucket.change(`ch.${token}`, (value) => {
      const nodes = new Set(parse(value));
      if (!nodes.delete(nodeId)) return { result: false };
      return { result: nodes.size === 0, value: nodes.size > 0 ? JSON.stringify([...nodes]) : null };
    });
  }

  #indexKey(nodeId: string, token: string): string {
    return `node.${keyToken(nodeId)}.${token}`;
  }
}

const parse = (value: string | null): string[] => (value === null ? [] : (JSON.parse(value) as string[]));
