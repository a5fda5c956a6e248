import { MemoryLastEventStore } from '../core/cache/memory.js';
import { MemoryChannelHistory } from '../core/channel-history/memory.js';
import { LocalOccupancy } from '../core/channels/occupancy.js';
import { MemoryHistoryStore } from '../core/history/memory.js';
import { MemoryPresenceStore } from '../core/presence/memory.js';
import type {
  Adapter,
  ChannelMessage,
  MessageHandler,
  NodeId,
  RequestHandler,
  RequestResult,
} from './adapter.js';
import { type ClusterParts, partSet } from './parts.js';

/** The single-node adapter: a publish is a local delivery, a request asks only this node. */
export class MemoryAdapter implements Adapter {
  readonly #deliver: MessageHandler[] = [];
  readonly #handlers = new Map<string, RequestHandler>();

  constructor(readonly nodeId: NodeId) {}

  onMessage(handler: MessageHandler): void {
    this.#deliver.push(handler);
  }

  async publish(message: ChannelMessage): Promise<void> {
    for (const deliver of this.#deliver) deliver(message);
  }

  async addInterest(): Promise<void> {}

  async removeInterest(): Promise<void> {}

  handle(op: string, handler: RequestHandler): void {
    this.#handlers.set(op, handler);
  }

  async request<T>(op: string, payload: unknown): Promise<RequestResult<T>> {
    const handler = this.#handlers.get(op);
    return { answers: handler ? [(await handler(payload)) as T] : [], complete: true };
  }

  async broadcast(op: string, payload: unknown): Promise<void> {
    await this.#handlers.get(op)?.(payload);
  }

  /** Alone: no other node. */
  get peers(): string[] {
    return [];
  }

  onNodeDown(): void {}

  async start(): Promise<void> {}

  async close(): Promise<void> {}
}

/**
 * The set of a single node: everything in this process, no broker, no connection, nothing to check
 * at start and no outbox (a node alone has nobody to hand its webhooks to).
 */
export function createMemoryParts(nodeId: NodeId, now: () => number): ClusterParts {
  return partSet(
    'memory',
    {
      adapter: new MemoryAdapter(nodeId),
      presence: new MemoryPresenceStore(),
      occupancy: new LocalOccupancy(),
      cache: new MemoryLastEventStore(now),
      history: new MemoryHistoryStore(),
      channelHistory: new MemoryChannelHistory(now),
    },
    { preflight: async () => {}, closeConnections: async () => {} },
  );
}
