/**
 * The live debug console's feed (like the Pusher dashboard's Debug Console): the protocols report what
 * happens in a namespace (`pusher:<appId>`, `wamp:<realm>`), and watchers of that namespace receive it.
 * It costs nothing while nobody watches: every call site asks `watched(namespace)`, a Map lookup, before
 * it builds an event. In memory only; the cluster forwarding is built on top of it (dashboard/).
 */

export type DebugEventType =
  | 'connection_opened'
  | 'connection_closed'
  | 'subscribed'
  | 'unsubscribed'
  | 'occupied'
  | 'vacated'
  | 'member_added'
  | 'member_removed'
  | 'api_message'
  | 'client_event'
  | 'webhook_sent'
  | 'webhook_failed'
  | 'session_joined'
  | 'session_left'
  | 'publication'
  | 'call';

export const DEBUG_EVENT_TYPES: ReadonlySet<string> = new Set<DebugEventType>([
  'connection_opened',
  'connection_closed',
  'subscribed',
  'unsubscribed',
  'occupied',
  'vacated',
  'member_added',
  'member_removed',
  'api_message',
  'client_event',
  'webhook_sent',
  'webhook_failed',
  'session_joined',
  'session_left',
  'publication',
  'call',
]);

/** The optional text fields of an event, in the order the console shows them. */
export const DEBUG_TEXT_FIELDS = [
  'channel',
  'event',
  'socketId',
  'userId',
  'data',
  'error',
  'url',
  'topic',
  'procedure',
] as const;
/** The optional number fields of an event. */
export const DEBUG_NUMBER_FIELDS = ['code', 'status', 'session'] as const;

type TextFields = { [F in (typeof DEBUG_TEXT_FIELDS)[number]]?: string };
type NumberFields = { [F in (typeof DEBUG_NUMBER_FIELDS)[number]]?: number };

/** What a call site reports: the feed adds the time and the node, and cuts `data`. */
export interface DebugReport extends Omit<TextFields, 'data'>, NumberFields {
  type: DebugEventType;
  /** Any payload: text as is, anything else as JSON; cut to the feed's `maxDataChars`. */
  data?: unknown;
}

/** One event as watchers receive it. */
export interface DebugEvent extends TextFields, NumberFields {
  type: DebugEventType;
  /** Milliseconds since the epoch, on the node where it happened. */
  time: number;
  /** The id of the node where it happened. */
  node: string;
  /** `data` was longer than the feed's `maxDataChars` and was cut. */
  truncated?: true;
}

/**
 * `count` events were dropped for a watcher since the last marker: told before its next event, or at
 * once for events that another node did not forward.
 */
export interface DroppedMarker {
  type: 'dropped';
  count: number;
}

export type DebugItem = DebugEvent | DroppedMarker;

export interface DebugFeedOptions {
  /** This node's id, the `node` of the events reported here. */
  node: string;
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number;
  /** Longest `data` kept, in UTF-16 code units; longer ones are cut and flagged `truncated`. @default 1024 */
  maxDataChars?: number;
}

export interface WatchOptions {
  /** Events waiting in the watcher's queue at most; more are dropped until it is read. @default 1000 */
  maxQueued?: number;
  /** Events accepted per second at most; more are dropped. @default 200 */
  maxPerSecond?: number;
  /**
   * Called (synchronously, from the reporting call site) when the queue gets its first item; the
   * watcher's owner reads it with `take`, preferably on a later turn. It must not throw.
   */
  onReady?: () => void;
}

/** Receives every event of a namespace (the cluster forwarding registers one per watched namespace). */
export type DebugSink = (event: DebugEvent) => void;

/** Told when a namespace gets its first local watcher (`true`) or loses its last (`false`). */
export type WatchListener = (namespace: string, watching: boolean) => void;

const DEFAULT_MAX_DATA_CHARS = 1024;
const DEFAULT_MAX_QUEUED = 1000;
/** A watcher's rate cap by default, the dashboard console's: events accepted a second. */
export const DEFAULT_MAX_PER_SECOND = 200;

/**
 * At most `perSecond` items a second, in windows of a second that start with the first item after the
 * last window; what it refuses, and what the owner drops for its own reasons, is counted until told in
 * a `DroppedMarker`. The watchers' rate cap, and the cluster forwarding's (dashboard/cluster-feed.ts).
 */
export class RateCap {
  readonly #perSecond: number;
  #windowStart = 0;
  #inWindow = 0;
  #dropped = 0;

  constructor(perSecond: number) {
    this.#perSecond = Math.max(1, perSecond);
  }

  /** Whether one more item fits in the window of `now` (milliseconds); one that does not is dropped. */
  admit(now: number): boolean {
    if (now - this.#windowStart >= 1000 || now < this.#windowStart) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= this.#perSecond) {
      this.#dropped++;
      return false;
    }
    this.#inWindow++;
    return true;
  }

  /** Counts `count` items dropped for another reason (a full queue, say). */
  drop(count = 1): void {
    this.#dropped += count;
  }

  /** The marker of what was dropped since the last one, and a count from zero; undefined for none. */
  takeMarker(): DroppedMarker | undefined {
    if (this.#dropped === 0) return undefined;
    const marker: DroppedMarker = { type: 'dropped', count: this.#dropped };
    this.#dropped = 0;
    return marker;
  }
}

/** One watcher of one namespace: a bounded queue, read with `take`. */
export class DebugWatcher {
  readonly namespace: string;
  readonly #maxQueued: number;
  /** The rate cap, and the count of what was dropped since the last marker. */
  readonly #cap: RateCap;
  readonly #onReady: (() => void) | undefined;
  readonly #now: () => number;
  readonly #release: (watcher: DebugWatcher) => void;
  #queue: DebugItem[] = [];
  /** Events in the queue (the markers not counted). */
  #queued = 0;
  #closed = false;

  /** Made by `DebugFeed.watch`. */
  constructor(
    namespace: string,
    options: WatchOptions,
    now: () => number,
    release: (watcher: DebugWatcher) => void,
  ) {
    this.namespace = namespace;
    this.#maxQueued = Math.max(1, options.maxQueued ?? DEFAULT_MAX_QUEUED);
    this.#cap = new RateCap(options.maxPerSecond ?? DEFAULT_MAX_PER_SECOND);
    this.#onReady = options.onReady;
    this.#now = now;
    this.#release = release;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Items waiting to be taken. */
  get size(): number {
    return this.#queue.length;
  }

  /** Everything queued, oldest first, and an empty queue. */
  take(): DebugItem[] {
    const items = this.#queue;
    this.#queue = [];
    this.#queued = 0;
    return items;
  }

  /** Stops receiving; what is queued can still be taken. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release(this);
  }

  /** Queues `event`, or counts it as dropped when the queue is full or the rate is over the cap. */
  push(event: DebugEvent): void {
    if (this.#closed) return;
    if (this.#queued >= this.#maxQueued) {
      this.#cap.drop();
      return;
    }
    if (!this.#cap.admit(this.#now())) return;
    const wasEmpty = this.#queue.length === 0;
    const marker = this.#cap.takeMarker();
    if (marker) this.#queue.push(marker);
    this.#queue.push(event);
    this.#queued++;
    if (wasEmpty) this.#onReady?.();
  }

  /**
   * `count` events dropped before they reached this node (by the node they happened on, over its
   * forwarding cap): told at once, in one marker with this watcher's own drops, or added to the marker
   * at the end of the queue.
   */
  pushDropped(count: number): void {
    if (this.#closed || count <= 0) return;
    this.#cap.drop(count);
    const marker = this.#cap.takeMarker()!;
    const last = this.#queue.at(-1);
    if (last?.type === 'dropped') {
      last.count += marker.count;
      return;
    }
    const wasEmpty = this.#queue.length === 0;
    this.#queue.push(marker);
    if (wasEmpty) this.#onReady?.();
  }
}

/** The hub the protocols report to and watchers read from, for one node. */
export class DebugFeed {
  readonly node: string;
  readonly #now: () => number;
  readonly #maxDataChars: number;
  /** Local watchers by namespace; a namespace without watchers has no entry. */
  readonly #watchers = new Map<string, Set<DebugWatcher>>();
  /** Other receivers (forwarding to other nodes) by namespace; none has no entry. */
  readonly #sinks = new Map<string, Set<DebugSink>>();
  /** Namespaces with a watcher or a sink: what `watched` reads. */
  readonly #wanted = new Set<string>();
  readonly #listeners: WatchListener[] = [];

  constructor(options: DebugFeedOptions) {
    this.node = options.node;
    this.#now = options.now ?? Date.now;
    this.#maxDataChars = options.maxDataChars ?? DEFAULT_MAX_DATA_CHARS;
  }

  /** Whether anyone, here or on another node, wants the namespace's events: call sites ask first. */
  watched(namespace: string): boolean {
    return this.#wanted.has(namespace);
  }

  /** Namespaces with a watcher on this node. */
  watchedHere(): string[] {
    return [...this.#watchers.keys()];
  }

  /**
   * Something happened here: stamps it with the time and this node, cuts its data, and hands it to the
   * namespace's watchers and sinks. Does nothing when nobody watches (call sites still ask `watched`
   * first, so that they build nothing).
   */
  report(namespace: string, report: DebugReport): void {
    if (!this.#wanted.has(namespace)) return;
    const { data, ...rest } = report;
    const event: DebugEvent = { ...rest, time: this.#now(), node: this.node };
    if (data !== undefined) this.#setData(event, data);
    const sinks = this.#sinks.get(namespace);
    if (sinks) for (const sink of sinks) sink(event);
    this.deliver(namespace, event);
  }

  /**
   * An event that happened on another node (already checked by the caller): to the local watchers
   * only, never to the sinks, so that nothing is forwarded twice. Its data is cut again here.
   */
  deliver(namespace: string, event: DebugEvent): void {
    const watchers = this.#watchers.get(namespace);
    if (!watchers) return;
    if (event.data !== undefined && event.data.length > this.#maxDataChars) this.#setData(event, event.data);
    for (const watcher of watchers) watcher.push(event);
  }

  /** `count` events of the namespace that another node dropped instead of forwarding: to the local watchers. */
  deliverDropped(namespace: string, count: number): void {
    const watchers = this.#watchers.get(namespace);
    if (watchers) for (const watcher of watchers) watcher.pushDropped(count);
  }

  /** A new watcher of the namespace; it receives events until closed. */
  watch(namespace: string, options: WatchOptions = {}): DebugWatcher {
    const watcher = new DebugWatcher(namespace, options, this.#now, (w) => this.#unwatch(w));
    let watchers = this.#watchers.get(namespace);
    const first = !watchers;
    if (!watchers) {
      watchers = new Set();
      this.#watchers.set(namespace, watchers);
      this.#wanted.add(namespace);
    }
    watchers.add(watcher);
    if (first) for (const listener of this.#listeners) listener(namespace, true);
    return watcher;
  }

  /** Adds a receiver of the namespace's events reported here; the function returned removes it. */
  addSink(namespace: string, sink: DebugSink): () => void {
    let sinks = this.#sinks.get(namespace);
    if (!sinks) {
      sinks = new Set();
      this.#sinks.set(namespace, sinks);
      this.#wanted.add(namespace);
    }
    sinks.add(sink);
    return () => {
      const current = this.#sinks.get(namespace);
      if (!current?.delete(sink) || current.size > 0) return;
      this.#sinks.delete(namespace);
      if (!this.#watchers.has(namespace)) this.#wanted.delete(namespace);
    };
  }

  /** Registers a listener of the first and last local watchers of each namespace. */
  onWatch(listener: WatchListener): void {
    this.#listeners.push(listener);
  }

  #unwatch(watcher: DebugWatcher): void {
    const { namespace } = watcher;
    const watchers = this.#watchers.get(namespace);
    if (!watchers?.delete(watcher) || watchers.size > 0) return;
    this.#watchers.delete(namespace);
    if (!this.#sinks.has(namespace)) this.#wanted.delete(namespace);
    for (const listener of this.#listeners) listener(namespace, false);
  }

  #setData(event: DebugEvent, data: unknown): void {
    const text = typeof data === 'string' ? data : toJson(data);
    if (text.length <= this.#maxDataChars) {
      event.data = text;
      return;
    }
    event.data = text.slice(0, this.#maxDataChars);
    event.truncated = true;
  }
}

/** JSON text of a payload; what JSON cannot hold (cycles, big integers) is shown as plain text. */
function toJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // The console shows the value as best it can: a payload it cannot encode is no error of the report.
    return String(value);
  }
}
