import {
  DiscardPolicy,
  headers,
  type JetStreamManager,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
  type StoredMsg,
  StringCodec,
} from 'nats';
import { newEpoch } from '../../core/channel-history/memory.js';
import type {
  ChannelHistory,
  HistoryEvent,
  HistoryPage,
  NewEvent,
  ReadAfter,
  StreamLimits,
  StreamPosition,
} from '../../core/channel-history/store.js';
import type { NatsClient } from './connection.js';
import { bucketName, keyToken } from './kv.js';
import { LazyStreams } from './streams.js';

const codec = StringCodec();
/** The longest a resume state is kept (the schema's most for `resumeTtlSeconds`). */
const MAX_RESUME_TTL_MS = 24 * 3600 * 1000;
/** Appends that lost the race for a channel's next offset try again, at most this many times. */
const MAX_APPEND_TRIES = 50;

/**
 * Channel streams and resume states in JetStream, shared by every node (docs/recovery.md). Each
 * channel is a subject of one stream, each event a message on it with its epoch, offset, time to live
 * and the stream's time to live in headers; the newest message names the stream's epoch and newest
 * offset. An append publishes with the subject's last sequence expected, so concurrent appends from
 * several nodes get consecutive offsets (the loser reads the new last message and tries again), and
 * purges the subject down to `maxEvents`. A stream whose newest message is older than its time to live
 * begins anew under a new epoch. Resume states are messages of a second stream, one per token, read
 * and deleted (a delete succeeds once). Both streams allow direct gets; they are created on first use,
 * over the set's one connection (`NatsClient`).
 */
export class NatsChannelHistory implements ChannelHistory {
  readonly #events: string;
  readonly #resume: string;
  readonly #subjects: string;
  readonly #streams: LazyStreams;

  constructor(
    client: NatsClient,
    prefix: string,
    readonly now: () => number = Date.now,
  ) {
    [this.#events, this.#resume] = channelHistoryStreams(prefix);
    this.#subjects = `herald-channels.${keyToken(prefix)}`;
    const common = {
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      allow_direct: true,
    };
    this.#streams = new LazyStreams(client, [
      { ...common, name: this.#events, subjects: [`${this.#subjects}.e.>`] },
      {
        ...common,
        name: this.#resume,
        subjects: [`${this.#subjects}.r.>`],
        max_msgs_per_subject: 1,
        max_age: MAX_RESUME_TTL_MS * 1_000_000,
      },
    ]);
  }

  append(namespace: string, channel: string, event: NewEvent, limits: StreamLimits): Promise<StreamPosition> {
    return this.#streams.use(({ nc, jsm }) => this.#append(nc, jsm, namespace, channel, event, limits));
  }

  async #append(
    nc: NatsConnection,
    jsm: JetStreamManager,
    namespace: string,
    channel: string,
    event: NewEvent,
    limits: StreamLimits,
  ): Promise<StreamPosition> {
    const subject = this.#eventSubject(namespace, channel);
    for (let tries = 0; ; tries++) {
      const last = await this.#last(jsm, this.#events, subject);
      const current = last && this.#live(last) ? positionOf(last) : undefined;
      const position = { epoch: current?.epoch ?? newEpoch(), offset: (current?.offset ?? 0) + 1 };
      const h = headers();
      h.set('Herald-Epoch', position.epoch);
      h.set('Herald-Offset', String(position.offset));
      h.set('Herald-Ttl', String(limits.ttlMs));
      h.set('Herald-Stream-Ttl', String(Math.max(limits.ttlMs, limits.streamTtlMs)));
      if (event.except !== undefined) h.set('Herald-Except', event.except);
      try {
        await nc.jetstream().publish(subject, codec.encode(event.text), {
          headers: h,
          expect: { lastSubjectSequence: last?.seq ?? 0 },
        });
      } catch (err) {
        if (tries < MAX_APPEND_TRIES && /wrong last sequence/i.test((err as Error).message)) continue;
        throw err;
      }
      // A stream begun anew keeps nothing of the one before; an old one keeps its newest maxEvents.
      const keep = current ? limits.maxEvents : 1;
      if (!current || position.offset > limits.maxEvents)
        await jsm.streams.purge(this.#events, { filter: subject, keep });
      return position;
    }
  }

  read(namespace: string, channel: string, after: ReadAfter, limit: number): Promise<HistoryPage> {
    return this.#streams.use(({ jsm }) => this.#read(jsm, namespace, channel, after, limit));
  }

  async #read(
    jsm: JetStreamManager,
    namespace: string,
    channel: string,
    after: ReadAfter,
    limit: number,
  ): Promise<HistoryPage> {
    const subject = this.#eventSubject(namespace, channel);
    const last = await this.#last(jsm, this.#events, subject);
    if (!last || !this.#live(last)) {
      return { position: undefined, events: [], complete: after.epoch === undefined && after.offset === 0 };
    }
    const position = positionOf(last);
    // The oldest event kept that has not expired, and those after it.
    let message = await this.#next(jsm, subject, 1);
    while (message && message.seq < last.seq && this.#expired(message))
      message = await this.#next(jsm, subject, message.seq + 1);
    const oldest = message && !this.#expired(message) ? positionOf(message).offset : position.offset + 1;
    const known =
      (after.epoch === undefined || after.epoch === position.epoch) && after.offset <= position.offset;
    const complete = known && after.offset >= oldest - 1;
    const from = complete ? after.offset + 1 : oldest;
    const events: HistoryEvent[] = [];
    while (message && events.length < Math.max(1, limit)) {
      const { offset } = positionOf(message);
      if (offset >= from && !this.#expired(message)) events.push(eventOf(message, offset));
      if (message.seq >= last.seq) break;
      message = await this.#next(jsm, subject, message.seq + 1);
    }
    return { position, events, complete };
  }

  position(namespace: string, channel: string): Promise<StreamPosition | undefined> {
    return this.#streams.use(async ({ jsm }) => {
      const last = await this.#last(jsm, this.#events, this.#eventSubject(namespace, channel));
      return last && this.#live(last) ? positionOf(last) : undefined;
    });
  }

  async saveResumeState(namespace: string, token: string, state: unknown, ttlMs: number): Promise<void> {
    const h = headers();
    h.set('Herald-Expires', String(this.now() + ttlMs));
    const data = codec.encode(JSON.stringify(state));
    await this.#streams.use(({ nc }) =>
      nc.jetstream().publish(this.#resumeSubject(namespace, token), data, { headers: h }),
    );
  }

  takeResumeState(namespace: string, token: string): Promise<unknown> {
    return this.#streams.use(({ jsm }) => this.#take(jsm, namespace, token));
  }

  async #take(jsm: JetStreamManager, namespace: string, token: string): Promise<unknown> {
    const kept = await this.#last(jsm, this.#resume, this.#resumeSubject(namespace, token));
    if (!kept) return undefined;
    // Whoever deletes it took it: a second delete finds nothing.
    const taken = await jsm.streams.deleteMessage(this.#resume, kept.seq).catch((err: Error) => {
      if (isNotFound(err)) return false;
      throw err;
    });
    if (!taken || Number(kept.header.get('Herald-Expires')) <= this.now()) return undefined;
    return JSON.parse(codec.decode(kept.data)) as unknown;
  }

  /** Idempotent: later operations reject. The connection is the set's, closed with it. */
  async close(): Promise<void> {
    this.#streams.close();
  }

  #eventSubject(namespace: string, channel: string): string {
    return `${this.#subjects}.e.${keyToken(namespace) || '_'}.${keyToken(channel) || '_'}`;
  }

  #resumeSubject(namespace: string, token: string): string {
    return `${this.#subjects}.r.${keyToken(namespace) || '_'}.${keyToken(token) || '_'}`;
  }

  /** Whether the stream whose newest message is `last` is still known. */
  #live(last: StoredMsg): boolean {
    return this.now() - last.time.getTime() < Number(last.header.get('Herald-Stream-Ttl'));
  }

  #expired(message: StoredMsg): boolean {
    return this.now() - message.time.getTime() >= Number(message.header.get('Herald-Ttl'));
  }

  async #last(jsm: JetStreamManager, stream: string, subject: string): Promise<StoredMsg | undefined> {
    try {
      return await (jsm as unknown as DirectGets).direct.getMessage(stream, { last_by_subj: subject });
    } catch (err) {
      if (isNotFound(err as Error)) return undefined;
      throw err;
    }
  }

  async #next(jsm: JetStreamManager, subject: string, seq: number): Promise<StoredMsg | undefined> {
    try {
      return await (jsm as unknown as DirectGets).direct.getMessage(this.#events, {
        seq,
        next_by_subj: subject,
      });
    } catch (err) {
      if (isNotFound(err as Error)) return undefined;
      throw err;
    }
  }
}

/** The streams of the channel streams and of the resume states under `prefix`. */
export function channelHistoryStreams(prefix: string): [string, string] {
  const bucket = bucketName(prefix, 'channel-history');
  return [`CHANNELS_${bucket}`, `RESUME_${bucket}`];
}

/**
 * Direct gets (the stream allows them): the client has them on its manager without declaring them,
 * and `next_by_subj` only there.
 */
interface DirectGets {
  direct: {
    getMessage(
      stream: string,
      query: { last_by_subj: string } | { seq: number; next_by_subj: string },
    ): Promise<StoredMsg>;
  };
}

const isNotFound = (err: Error) => /no message found|not found/i.test(err.message);

function positionOf(message: StoredMsg): StreamPosition {
  return {
    epoch: message.header.get('Herald-Epoch'),
    offset: Number(message.header.get('Herald-Offset')),
  };
}

function eventOf(message: StoredMsg, offset: number): HistoryEvent {
  const text = codec.decode(message.data);
  const except = message.header.has('Herald-Except') ? message.header.get('Herald-Except') : undefined;
  return except === undefined ? { offset, text } : { offset, text, except };
}
