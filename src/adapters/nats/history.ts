import { DiscardPolicy, RetentionPolicy, StorageType, StringCodec } from 'nats';
import { type HistoryStore, MAX_HISTORY_LIMIT } from '../../core/history/store.js';
import type { NatsClient } from './connection.js';
import { bucketName, keyToken } from './kv.js';
import { LazyStreams } from './streams.js';

const codec = StringCodec();
/** How long a read waits for the entries the stream said it holds. */
const READ_WAIT_MS = 2000;

/**
 * History logs in one JetStream stream, shared by every node: a log is a subject, the stream keeps at
 * most `MAX_HISTORY_LIMIT` messages per subject, and each append purges its subject down to the log's
 * own limit. A read replays the subject (at most its limit) through an ordered consumer. The stream is
 * created on first use, over the set's one connection (`NatsClient`).
 */
export class NatsHistoryStore implements HistoryStore {
  readonly #stream: string;
  readonly #subjects: string;
  readonly #streams: LazyStreams;

  constructor(client: NatsClient, prefix: string) {
    this.#stream = historyStreamName(prefix);
    this.#subjects = `herald-history.${keyToken(prefix)}`;
    this.#streams = new LazyStreams(client, [
      {
        name: this.#stream,
        subjects: [`${this.#subjects}.>`],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_msgs_per_subject: MAX_HISTORY_LIMIT,
      },
    ]);
  }

  async append(namespace: string, log: string, entry: string, limit: number): Promise<void> {
    const { nc, jsm } = await this.#streams.open();
    const subject = this.#subject(namespace, log);
    await nc.jetstream().publish(subject, codec.encode(entry));
    if (limit < MAX_HISTORY_LIMIT) await jsm.streams.purge(this.#stream, { filter: subject, keep: limit });
  }

  async latest(namespace: string, log: string, count: number): Promise<string[]> {
    if (count <= 0) return [];
    const { nc, jsm } = await this.#streams.open();
    const subject = this.#subject(namespace, log);
    const info = await jsm.streams.info(this.#stream, { subjects_filter: subject });
    const held = info.state.subjects?.[subject] ?? 0;
    if (held === 0) return [];
    const consumer = await nc.jetstream().consumers.get(this.#stream, { filterSubjects: subject });
    const entries: string[] = [];
    try {
      const messages = await consumer.fetch({ max_messages: held, expires: READ_WAIT_MS });
      for await (const m of messages) {
        entries.push(codec.decode(m.data));
        if (entries.length >= held) break;
      }
    } finally {
      // The server would drop the ephemeral consumer once idle anyway.
      await consumer.delete().catch(() => false);
    }
    return entries.slice(Math.max(0, entries.length - count)).reverse();
  }

  /** Idempotent: later operations reject. The connection is the set's, closed with it. */
  async close(): Promise<void> {
    this.#streams.close();
  }

  #subject(namespace: string, log: string): string {
    return `${this.#subjects}.${keyToken(namespace)}.${keyToken(log) || '_'}`;
  }
}

/** The stream of the history logs under `prefix`. */
export const historyStreamName = (prefix: string) => `HISTORY_${bucketName(prefix, 'history')}`;
