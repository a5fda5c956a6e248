import type PusherServer from 'pusher';
import {
  type EchoClient,
  type PusherClient,
  type Recovery,
  type ResumedChannel,
  withRecovery,
} from '../../packages/herald-recovery/src/herald-recovery.js';
import { connected, nextEvent, pusherClient } from './herald.js';
import type { Channel, Options, Pusher } from './pusher-js.js';
import { within } from './raw-client.js';

/**
 * A pusher-js client with the recovery helper (packages/herald-recovery), recording the `n` of every
 * `order` event it gets per channel and every `herald:resumed` the helper reports, in order.
 */
export class RecoveringClient {
  readonly recovery: Recovery;
  readonly #got = new Map<string, number[]>();
  readonly #resumed: ResumedChannel[] = [];
  readonly #waiters: { channel: string; resolve: (r: ResumedChannel) => void }[] = [];

  constructor(
    readonly client: Pusher,
    target: PusherClient | EchoClient = client as unknown as PusherClient,
  ) {
    this.recovery = withRecovery(target, {
      onResumed: (resumed) => {
        const i = this.#waiters.findIndex((w) => w.channel === resumed.channel);
        if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(resumed);
        else this.#resumed.push(resumed);
      },
    });
  }

  /** A client of the server on 127.0.0.1 `port` (a proxy's, say). */
  static async connect(port: number, options: Partial<Options> = {}): Promise<RecoveringClient> {
    const recording = new RecoveringClient(pusherClient(port, undefined, options));
    await within(connected(recording.client), 5000, 'pusher-js to connect');
    return recording;
  }

  /** Subscribes to `channel`, recording its `order` events, and waits for the subscription. */
  async subscribe(channel: string): Promise<Channel> {
    const subscription = this.client.subscribe(channel);
    this.record(channel, (cb) => subscription.bind('order', cb));
    await within(
      nextEvent(subscription, 'pusher:subscription_succeeded'),
      5000,
      `subscription to ${channel}`,
    );
    return subscription;
  }

  /** Records the `n` of each event `bind` hands on, under `channel`. */
  record(channel: string, bind: (callback: (data: { n: number }) => void) => void): void {
    const got: number[] = [];
    this.#got.set(channel, got);
    bind((data) => got.push(data.n));
  }

  /** The `n`s received on `channel` so far, in order. */
  got(channel: string): number[] {
    return this.#got.get(channel) ?? [];
  }

  /** The next `herald:resumed` the helper reports for `channel`. */
  nextResumed(channel: string): Promise<ResumedChannel> {
    const i = this.#resumed.findIndex((r) => r.channel === channel);
    if (i >= 0) return Promise.resolve(this.#resumed.splice(i, 1)[0]!);
    return within(
      new Promise((resolve) => this.#waiters.push({ channel, resolve })),
      20_000,
      `herald:resumed on ${channel}`,
    );
  }

  disconnect(): void {
    this.recovery.detach();
    this.client.disconnect();
  }
}

/** Publishes `order` events numbered `from`…`to` to `channel`, a hundred per request. */
export async function publishOrders(
  sdk: PusherServer,
  channel: string,
  from: number,
  to: number,
): Promise<void> {
  for (let first = from; first <= to; first += 100) {
    const batch = [];
    for (let n = first; n <= Math.min(to, first + 99); n++)
      batch.push({ channel, name: 'order', data: { n } });
    await sdk.triggerBatch(batch);
  }
}

/** `from`…`to`. */
export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
