import { randomUUID } from 'node:crypto';
import type { Adapter, ChannelMessage, MessageHandler, RequestHandler, RequestResult } from './adapter.js';

/** The single-node adapter: a publish is a local delivery, a request asks only this node. */
export class MemoryAdapter implements Adapter {
  readonly nodeId = randomUUID();
  readonly #deliver: MessageHandler[] = [];
  readonly #handlers = new Map<string, RequestHandler>();

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
