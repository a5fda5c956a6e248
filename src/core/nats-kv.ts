import { connect, Events, type KV, type NatsConnection, StringCodec } from 'nats';
import type { Logger } from 'pino';

const codec = StringCodec();
/** JetStream's answer when the expected revision of a key is not the current one. */
const WRONG_LAST_SEQUENCE = 10071;
/** Compare-and-set attempts before a change gives up (each loser re-reads, so N nodes need N). */
const MAX_ATTEMPTS = 1000;
/** How long `close` waits for an open under way. */
const CLOSE_WAIT_MS = 1000;
/** How long one attempt to reach a server may take. */
const CONNECT_TIMEOUT_MS = 5000;

/** What a change does with the key: a new value, `null` to delete it, `undefined` to leave it. */
export interface Change<T> {
  result: T;
  value?: string | null | undefined;
}

type Result = { ok: true; result: unknown } | { ok: false; err: unknown };

interface PendingChange {
  change: (value: string | null) => Change<unknown>;
  resolve: (result: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * A JetStream key-value bucket on its own connection, opened on first use (and again after a failed
 * open). `change` is the one way shared documents are modified: read, compute, write back on the
 * condition that the key's revision is unchanged, and start over after a conflict.
 */
export class KvBucket {
  readonly #servers: string[];
  readonly #bucket: string;
  readonly #name: string;
  readonly #logger: Logger | undefined;
  /** Per key: changes waiting for the write under way to end (present while one is). */
  readonly #pending = new Map<string, PendingChange[]>();
  #ready: Promise<{ nc: NatsConnection; kv: KV }> | undefined;
  #closed = false;

  constructor(url: string, bucket: string, name: string, logger?: Logger) {
    this.#servers = url.split(',').map((s) => s.trim());
    this.#bucket = bucket;
    this.#name = name;
    this.#logger = logger;
  }

  /** The key's value; null when absent or deleted. */
  async get(key: string): Promise<string | null> {
    return (await this.#read(key)).value;
  }

  /**
   * Applies `change` to the key's current value and writes the outcome only if nobody wrote the key
   * in between; otherwise runs `change` again on a fresh read. `change` must not have side effects.
   *
   * Changes to one key made on this node while a write of it is under way are applied together, in
   * the order they came, by the next write: the key sees one writer per node, not one per caller, so
   * many callers on one busy key do not make each other start over again and again.
   */
  change<T>(key: string, change: (value: string | null) => Change<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const op = { change, resolve, reject } as PendingChange;
      const queued = this.#pending.get(key);
      if (queued) {
        queued.push(op);
        return;
      }
      this.#pending.set(key, [op]);
      void this.#writeAll(key);
    });
  }

  /** Writes the key's pending changes, a batch at a time, until none is left. */
  async #writeAll(key: string): Promise<void> {
    for (;;) {
      const batch = this.#pending.get(key)!;
      if (batch.length === 0) {
        this.#pending.delete(key);
        return;
      }
      this.#pending.set(key, []);
      try {
        const results = await this.#write(key, batch);
        batch.forEach((op, i) => {
          const r = results[i]!;
          if (r.ok) op.resolve(r.result);
          else op.reject(r.err);
        });
      } catch (err) {
        for (const op of batch) op.reject(err);
      }
    }
  }

  /** One compare-and-set of the key with every change of the batch applied in turn; their results. */
  async #write(key: string, batch: PendingChange[]): Promise<Result[]> {
    const { kv } = await this.#open();
    for (let attempt = 1; ; attempt++) {
      const read = await this.#read(key);
      let value = read.value;
      let changed = false;
      const results = batch.map((op): Result => {
        let outcome: Change<unknown>;
        try {
          outcome = op.change(value);
        } catch (err) {
          return { ok: false, err }; // that caller's change alone fails
        }
        if (outcome.value !== undefined) {
          value = outcome.value;
          changed = true;
        }
        return { ok: true, result: outcome.result };
      });
      if (!changed || (value === null && read.value === null) || value === read.value) return results;
      try {
        if (value === null) await kv.delete(key, { previousSeq: read.revision });
        else await kv.put(key, codec.encode(value), { previousSeq: read.revision });
        return results;
      } catch (err) {
        const code = (err as { api_error?: { err_code?: number } }).api_error?.err_code;
        if (code !== WRONG_LAST_SEQUENCE || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  }

  async put(key: string, value: string): Promise<void> {
    const { kv } = await this.#open();
    await kv.put(key, codec.encode(value));
  }

  async delete(key: string): Promise<void> {
    const { kv } = await this.#open();
    await kv.delete(key);
  }

  /** Keys matching a subject-style filter (`a.b.>`), deleted ones left out. */
  async keys(filter: string): Promise<string[]> {
    const { kv } = await this.#open();
    const keys: string[] = [];
    for await (const key of await kv.keys(filter)) keys.push(key);
    return keys;
  }

  /**
   * Idempotent. An open still under way (the broker went away during the handshake) is not waited for
   * beyond a second; its connection is closed whenever it ends.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const ready = this.#ready;
    if (!ready) return;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), CLOSE_WAIT_MS);
    });
    const opened = await Promise.race([ready.catch(() => undefined), gaveUp]);
    clearTimeout(timer);
    if (opened) return opened.nc.close();
    ready.then(
      ({ nc }) => nc.close(),
      (err) => this.#logger?.debug({ err: (err as Error).message }, `${this.#name} never opened`),
    );
  }

  async #read(key: string): Promise<{ value: string | null; revision: number }> {
    const { kv } = await this.#open();
    const entry = await kv.get(key);
    if (!entry) return { value: null, revision: 0 };
    // A deleted key keeps a marker; its revision is the one the next write must expect.
    return { value: entry.operation === 'PUT' ? codec.decode(entry.value) : null, revision: entry.revision };
  }

  #open(): Promise<{ nc: NatsConnection; kv: KV }> {
    if (this.#closed) return Promise.reject(new Error(`${this.#name} is closed`));
    this.#ready ??= this.#connect().catch((err) => {
      this.#ready = undefined; // the next operation tries again
      throw err;
    });
    return this.#ready;
  }

  async #connect(): Promise<{ nc: NatsConnection; kv: KV }> {
    const nc = await connect({
      servers: this.#servers,
      name: this.#name,
      timeout: CONNECT_TIMEOUT_MS,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      reconnectJitter: 250,
    });
    try {
      const kv = await nc.jetstream().views.kv(this.#bucket, { history: 1 });
      this.#watch(nc).catch((err) => this.#logger?.warn({ err }, 'nats status watch ended'));
      return { nc, kv };
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  async #watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === Events.Disconnect) {
        this.#logger?.warn({ server: status.data, client: this.#name }, 'nats disconnected');
      } else if (status.type === Events.Reconnect) {
        this.#logger?.info({ server: status.data, client: this.#name }, 'nats reconnected');
      }
    }
  }
}

/** Key tokens allow letters, digits, '-', '_' and '='; base64url keeps any text within them. */
export const keyToken = (s: string) => Buffer.from(s).toString('base64url');

export const fromKeyToken = (token: string) => Buffer.from(token, 'base64url').toString();

/** Bucket names allow letters, digits, '-' and '_'; other prefixes are encoded. */
export function bucketName(prefix: string, purpose: string): string {
  return /^[A-Za-z0-9_-]+$/.test(prefix) ? `${prefix}-${purpose}` : `${purpose}-${keyToken(prefix)}`;
}
