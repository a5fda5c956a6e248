import type { Adapter, ChannelMessage, MessageHandler } from './adapter.js';

/** The single-node adapter: a publish is a local delivery. */
export class MemoryAdapter implements Adapter {
  #handler: MessageHandler = () => {};

  onMessage(handler: MessageHandler): void {
    this.#handler = handler;
  }

  async publish(message: ChannelMessage): Promise<void> {
    this.#handler(message);
  }

  async addInterest(): Promise<void> {}

  async removeInterest(): Promise<void> {}

  async start(): Promise<void> {}

  async close(): Promise<void> {}
}
