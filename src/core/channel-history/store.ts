/**
 * Channel streams (docs/recovery.md): the events published to a channel that keeps history, each with
 * an offset, and the resume state of closed connections. One store per cluster set: in this process
 * for a single node (`MemoryChannelHistory`); a shared implementation keeps the same promises across
 * nodes, which the contract suite (test/contract/channel-history.contract.ts) checks of each.
 */

/**
 * Where a channel's stream stands. `offset` is the newest event's (0 before the first); offsets are
 * integers from 1 up to `Number.MAX_SAFE_INTEGER`, increasing by one per event of the channel. `epoch`
 * names the stream's history: a stream that lost its history (a store that restarted empty, a stream
 * forgotten and begun anew) has another epoch, and its offsets mean nothing under the old one.
 */
export interface StreamPosition {
  readonly epoch: string;
  readonly offset: number;
}

/** An event of a stream. */
export interface HistoryEvent {
  readonly offset: number;
  /** The frame exactly as the channel's subscribers received it. */
  readonly text: string;
  /** The socket id that did not receive it (a client event's sender, the HTTP API's `socket_id`). */
  readonly except?: string;
}

/** An event to append: the frame as subscribers receive it, and the socket id left out of them. */
export interface NewEvent {
  readonly text: string;
  readonly except?: string | undefined;
}

/** A position to read after: `epoch` undefined means the current one, `offset` 0 its beginning. */
export interface ReadAfter {
  readonly epoch?: string | undefined;
  readonly offset: number;
}

/** How much a channel's stream keeps; given with each append, so that the app's latest settings hold. */
export interface StreamLimits {
  /** Events kept; past it the oldest is dropped. */
  readonly maxEvents: number;
  /** How long an event is kept. */
  readonly ttlMs: number;
  /**
   * How long the stream itself (its epoch and newest offset) is kept after its last append, when that
   * is longer than `ttlMs`: a stream forgotten sooner would begin anew under another epoch while
   * clients that may still resume know the old one.
   */
  readonly streamTtlMs: number;
}

/** What `read` finds after a position. */
export interface HistoryPage {
  /** The stream's newest position now; undefined when the channel has no stream. */
  readonly position: StreamPosition | undefined;
  /** Events after the position asked for, oldest first, at most the limit asked for. */
  readonly events: readonly HistoryEvent[];
  /**
   * True when nothing after the position asked for was lost: `events` begin right after it. False
   * when events after it were dropped (by `maxEvents` or age), or the position is not of this stream
   * (another epoch, an offset past its newest): `events` then begin with the oldest kept. A channel
   * without a stream is complete only for a read from the beginning (no epoch, offset 0).
   */
  readonly complete: boolean;
}

export interface ChannelHistory {
  /**
   * Adds an event to the channel's stream, beginning one (a new epoch, offsets from 1) when the
   * channel has none, and resolves with its position. Appends to one channel resolve in the order of
   * their offsets; the caller delivers the event after that, so that every node sees a channel's
   * events in offset order. Rejects when the store failed (nothing was added).
   */
  append(namespace: string, channel: string, event: NewEvent, limits: StreamLimits): Promise<StreamPosition>;
  /**
   * Up to `limit` (at least 1) events after `after`, oldest first. `after.epoch` undefined means the
   * current epoch, whatever it is; `after.offset` 0 asks from the beginning of the epoch.
   */
  read(namespace: string, channel: string, after: ReadAfter, limit: number): Promise<HistoryPage>;
  /** The channel's newest position; undefined when it has no stream. */
  position(namespace: string, channel: string): Promise<StreamPosition | undefined>;
  /**
   * Keeps a closed connection's resume state (plain JSON) under its resume token for `ttlMs`,
   * replacing any kept under it.
   */
  saveResumeState(namespace: string, token: string, state: unknown, ttlMs: number): Promise<void>;
  /**
   * The resume state kept under the token, taken: a token resumes one connection, so a second take
   * finds nothing. Undefined when none is kept (never saved, expired or taken).
   */
  takeResumeState(namespace: string, token: string): Promise<unknown>;
  /** Stops the store's timers; the data of a shared store stays. Idempotent. */
  close(): Promise<void>;
}
