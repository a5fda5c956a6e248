import type { JetStreamManager, NatsConnection, StreamConfig } from 'nats';
import type { NatsClient } from './connection.js';

/** The connection and its JetStream manager, once a store's streams are there. */
export interface OpenStreams {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
}

/**
 * A store's JetStream streams, created (or brought to their configuration) on first use over the
 * set's one connection, and again when the broker lost them: an open that failed is tried again by the
 * next use; once closed, uses reject.
 */
export class LazyStreams {
  #ready: Promise<OpenStreams> | undefined;
  #closed = false;

  constructor(
    readonly client: NatsClient,
    /** The streams' configurations, applied in turn. */
    readonly configs: (Partial<StreamConfig> & { name: string })[],
  ) {}

  open(): Promise<OpenStreams> {
    if (this.#closed) return Promise.reject(new Error(`the ${this.configs[0]!.name} stream is closed`));
    this.#ready ??= this.#create().catch((err: unknown) => {
      this.#ready = undefined; // the next operation tries again
      throw err;
    });
    return this.#ready;
  }

  /**
   * Runs `op` on the open streams. A broker that came back without its data has lost them: when `op`
   * finds a stream missing, they are created again and `op` runs once more.
   */
  async use<T>(op: (streams: OpenStreams) => Promise<T>): Promise<T> {
    const streams = await this.open();
    try {
      return await op(streams);
    } catch (err) {
      // A direct get from a stream that is gone finds nobody to answer it, and times out.
      if (!/stream not found|no responders|timeout/i.test((err as Error).message)) throw err;
      if (!(await this.#lost(streams))) throw err;
      this.#ready = undefined;
      return op(await this.open());
    }
  }

  /** Whether one of the streams is gone. */
  async #lost({ jsm }: OpenStreams): Promise<boolean> {
    for (const { name } of this.configs) {
      const gone = await jsm.streams.info(name).then(
        () => false,
        (err: Error) => /not found/i.test(err.message),
      );
      if (gone) return true;
    }
    return false;
  }

  close(): void {
    this.#closed = true;
  }

  async #create(): Promise<OpenStreams> {
    const nc = await this.client.start();
    const jsm = await nc.jetstreamManager();
    for (const config of this.configs) {
      try {
        await jsm.streams.info(config.name);
        await jsm.streams.update(config.name, config);
      } catch (err) {
        if (!/not found/i.test((err as Error).message)) throw err;
        await jsm.streams.add(config);
      }
    }
    return { nc, jsm };
  }
}
