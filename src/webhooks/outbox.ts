import type { Logger } from 'pino';
import type { WebhookDelivery, WebhookOutbox } from '../core/webhook-outbox.js';
import type { WebhookQueue } from './queue.js';

/** A queue that also records each delivery in the outbox until it is done with. */
export class JournaledQueue implements WebhookQueue {
  readonly #inner: WebhookQueue;
  readonly #outbox: WebhookOutbox;
  readonly #logger: Logger;

  constructor(inner: WebhookQueue, outbox: WebhookOutbox, logger: Logger) {
    this.#inner = inner;
    this.#outbox = outbox;
    this.#logger = logger;
  }

  async push(delivery: WebhookDelivery): Promise<boolean> {
    if (!(await this.#inner.push(delivery))) return false;
    // Not awaited: the broker keeps one connection's writes in order, so the removal never passes it.
    this.#outbox.put(delivery.id, { kind: 'delivery', delivery }).catch((err) => {
      this.#logger.warn({ err, id: delivery.id }, 'webhook not recorded in the outbox');
    });
    return true;
  }

  take(lane: string, accept?: (delivery: WebhookDelivery) => boolean): Promise<WebhookDelivery | undefined> {
    return this.#inner.take(lane, accept);
  }

  async done(delivery: WebhookDelivery): Promise<void> {
    await this.#inner.done(delivery);
    this.#outbox.remove(delivery.id).catch((err) => {
      this.#logger.warn({ err, id: delivery.id }, 'webhook not removed from the outbox');
    });
  }

  size(lane?: string): Promise<number> {
    return this.#inner.size(lane);
  }
}
