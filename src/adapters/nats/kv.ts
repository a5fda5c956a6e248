import { type KV, StringCodec } from 'nats';
import type { NatsClient } from './connection.js';

const codec = StringCodec();
/** JetStream's answer when the expected revision of a key is not the current one. */
const WRONG_LAST_SEQUENCE = 10071;
/** Compare-and-set attempts before a change gives up (each loser re-reads, so N nodes need N). */
const MAX_ATTEMPTS = 1000;

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
 * A JetStream key-value bucket over the set's one connection (`NatsClient`), opened (created when
 * missing) on first use and again after a failed open. `change` is the one way shared documents are
 * modified: read, compute, write back on the condition that the key's revision is unchanged, and start
 * over after a conflict.
 */
export class KvBucket {
  readonly #client: NatsClient;
  readonly #bucket: string;
  /** Per key: changes waiting for the write under way to end (present while one is). */
  readonly #pending = new Map<string, PendingChange[]>();
  #ready: Promise<KV> | undefined;
  #closed = false;

  constructor(client: NatsClient, bucket: string) {
    this.#client = client;
    this.#bucket = bucket;
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
    const kv = await this.#open();
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
    const kv = await this.#open();
    await kv.put(key, codec.encode(value));
  }

  async delete(key: string): Promise<void> {
    const kv = await this.#open();
    await kv.delete(key);
  }

  /** Keys matching a subject-style filter (`a.b.>`), deleted ones left out. */
  async keys(filter: string): Promise<string[]> {
    const kv = await this.#open();
    const keys: string[] = [];
    for await (const key of await kv.keys(filter)) keys.push(key);
    return keys;
  }

  /** Idempotent: later operations reject. The connection is the set's, closed with it. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  async #read(key: string): Promise<{ value: string | null; revision: number }> {
    const kv = await this.#open();
    const entry = await kv.get(key);
    if (!entry) return { value: null, revision: 0 };
    // A deleted key keeps a marker; its revision is the one the next write must expect.
    return { value: entry.operation === 'PUT' ? codec.decode(entry.value) : null, revision: entry.revision };
  }

  #open(): Promise<KV> {
    if (this.#closed) return Promise.reject(new Error(`the ${this.#bucket} bucket is closed`));
    this.#ready ??= this.#client
      .start()
      .then((nc) => nc.jetstream().views.kv(this.#bucket, { history: 1 }))
      .catch((err: unknown) => {
        this.#ready = undefined; // the next operation tries again
        throw err;
      });
    return this.#ready;
  }
}

/** Key tokens allow letters, digits, '-', '_' and '='; base64url keeps any text within them. */
export const keyToken = (s: string) => Buffer.from(s).toString('base64url');

export const fromKeyToken = (token: string) => Buffer.from(token, 'base64url').toString();

/** Bucket names allow letters, digits, '-' and '_'; other prefixes are encoded. */
export function bucketName(prefix: string, purpose: string): string {
  return /^[A-Za-z0-9_-]+$/.test(prefix) ? `${prefix}-${purpose}` : `${purpose}-${keyToken(prefix)}`;
}
