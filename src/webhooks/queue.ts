import type { WebhookDelivery } from '../core/webhook-outbox.js';

/**
 * Where webhook requests wait for delivery. The in-memory queue serves one node; a queue shared by a
 * cluster can implement the same contract, handing each delivery to one node at a time.
 *
 * Contract:
 * - Lanes are independent: what happens in one never holds up another.
 * - Within a lane, deliveries are claimed strictly in push order (`take` never skips one), which is
 *   what keeps a channel's `channel_occupied` ahead of its `channel_vacated` at the receiver.
 * - A claimed delivery stays in the queue, counted by `size`, and is handed out to nobody else until
 *   `done`. A shared queue may hand it out again if its claimer disappears (delivery is at least once).
 * - Methods never reject for a full lane; `push` resolves false instead.
 */
export interface WebhookQueue {
  /**
   * Appends to the tail of the delivery's lane. Resolves false, storing nothing, when the lane
   * already holds `maxQueued` deliveries (claimed ones included); the caller counts and logs the loss.
   */
  push(delivery: WebhookDelivery): Promise<boolean>;
  /**
   * Claims the lane's oldest unclaimed delivery, provided `accept` (when given) agrees to it.
   * Resolves undefined, claiming nothing, when the lane has none or `accept` refused it.
   */
  take(lane: string, accept?: (delivery: WebhookDelivery) => boolean): Promise<WebhookDelivery | undefined>;
  /** Removes a claimed delivery for good: it was delivered, or given up on. */
  done(delivery: WebhookDelivery): Promise<void>;
  /** Deliveries held in `lane`, or in every lane, claimed ones included. */
  size(lane?: string): Promise<number>;
}

class Lane {
  /** Unclaimed deliveries from `head` on; the consumed prefix is cut off now and then. */
  waiting: WebhookDelivery[] = [];
  head = 0;
  readonly claimed = new Set<string>();

  get size(): number {
    return this.waiting.length - this.head + this.claimed.size;
  }
}

/** The queue of a single node: per-lane FIFO arrays, bounded per lane. */
export class MemoryWebhookQueue implements WebhookQueue {
  readonly #lanes = new Map<string, Lane>();
  readonly #maxQueued: number;
  #size = 0;

  constructor(options: { maxQueued: number }) {
    this.#maxQueued = options.maxQueued;
  }

  async push(delivery: WebhookDelivery): Promise<boolean> {
    let lane = this.#lanes.get(delivery.lane);
    if (!lane) {
      lane = new Lane();
      this.#lanes.set(delivery.lane, lane);
    }
    if (lane.size >= this.#maxQueued) return false;
    lane.waiting.push(delivery);
    this.#size++;
    return true;
  }

  async take(
    laneName: string,
    accept?: (delivery: WebhookDelivery) => boolean,
  ): Promise<WebhookDelivery | undefined> {
    const lane = this.#lanes.get(laneName);
    const next = lane?.waiting[lane.head];
    if (!lane || !next || (accept && !accept(next))) return undefined;
    lane.waiting[lane.head++] = undefined as unknown as WebhookDelivery; // let it be collected
    if (lane.head === lane.waiting.length) {
      lane.waiting = [];
      lane.head = 0;
    } else if (lane.head >= 1024 && lane.head * 2 >= lane.waiting.length) {
      lane.waiting = lane.waiting.slice(lane.head);
      lane.head = 0;
    }
    lane.claimed.add(next.id);
    return next;
  }

  async done(delivery: WebhookDelivery): Promise<void> {
    const lane = this.#lanes.get(delivery.lane);
    if (!lane?.claimed.delete(delivery.id)) return;
    this.#size--;
    if (lane.size === 0) this.#lanes.delete(delivery.lane);
  }

  async size(lane?: string): Promise<number> {
    return lane === undefined ? this.#size : (this.#lanes.get(lane)?.size ?? 0);
  }
}
