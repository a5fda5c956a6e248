import type { Logger } from 'pino';
import type { Adapter, ChannelMessage, NodeId } from '../adapters/adapter.js';
import { busFields, MalformedBusMessage } from '../adapters/bus-payload.js';
import {
  DEBUG_EVENT_TYPES,
  DEBUG_NUMBER_FIELDS,
  DEBUG_TEXT_FIELDS,
  DEFAULT_MAX_PER_SECOND,
  type DebugEvent,
  type DebugFeed,
  type DebugItem,
  RateCap,
} from '../core/debug-feed.js';

/** The broadcast by which a node says which namespaces it watches (and so keeps its leases). */
export const WATCH_OP = 'debug.watch';
/** Forwarded events of namespace N travel in the adapter namespace `debug:<N>`, on this channel. */
export const FEED_PREFIX = 'debug:';
export const FEED_CHANNEL = 'events';

/** Namespaces one announcement may name; more are ignored (a watcher per app is a handful). */
const MAX_NAMESPACES = 1000;
/** Longest namespace and longest text field accepted from the bus. */
const MAX_NAME = 512;
const MAX_TEXT = 64 * 1024;

/**
 * Events of one namespace that a node forwards a second at most. A console's watcher takes no more
 * than this a second by default (`DEFAULT_MAX_PER_SECOND`), so more would load the bus, and every
 * watching node, with events the console drops anyway.
 */
export const FORWARD_PER_SECOND = DEFAULT_MAX_PER_SECOND;

/** A namespace this node forwards: the sink's removal, and the cap on what it sends. */
interface Forwarding {
  remove: () => void;
  cap: RateCap;
}

export interface ClusterDebugFeedOptions {
  feed: DebugFeed;
  adapter: Pick<
    Adapter,
    | 'nodeId'
    | 'broadcast'
    | 'handle'
    | 'publish'
    | 'addInterest'
    | 'removeInterest'
    | 'onMessage'
    | 'onNodeDown'
  >;
  logger: Logger;
  /** How often a watching node renews its announcement. @default 3000 */
  renewMs?: number;
  /**
   * How long an announcement holds on the other nodes: a watching node that dies stops the forwarding
   * to it after this. @default 10000
   */
  leaseMs?: number;
  /** Events of one namespace forwarded a second at most; more are told as dropped. @default FORWARD_PER_SECOND */
  forwardPerSecond?: number;
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number;
}

/**
 * Makes the debug feed cluster-wide. A node with watchers of namespace N says so to every node (a
 * `debug.watch` broadcast, renewed every `renewMs`, each holding for `leaseMs`), and takes interest in
 * `debug:<N>`; every node told so forwards the events of N reported on it over the bus, where the
 * watching nodes hand them to their watchers with the `node` they happened on. Nothing is broadcast or
 * forwarded while nobody watches. A node forwards at most `forwardPerSecond` events of a namespace a
 * second (by the events' own time); what it holds back is counted, as a watcher counts its drops, and
 * sent as a `{"type":"dropped","count":n}` marker before its next forwarded event, or at the next
 * renewal if none comes: the watchers show it like their own.
 */
export class ClusterDebugFeed {
  readonly #feed: DebugFeed;
  readonly #adapter: ClusterDebugFeedOptions['adapter'];
  readonly #logger: Logger;
  readonly #renewMs: number;
  readonly #leaseMs: number;
  readonly #forwardPerSecond: number;
  readonly #now: () => number;
  /** Per namespace, the other nodes watching it and when their lease ends. */
  readonly #leases = new Map<string, Map<NodeId, number>>();
  /** Per namespace with leases, its forwarding sink's removal and rate cap. */
  readonly #forwarding = new Map<string, Forwarding>();
  #timer: NodeJS.Timeout | undefined;
  /** Whether the last announcement named any namespace (an empty one then withdraws it). */
  #announced = false;

  constructor(options: ClusterDebugFeedOptions) {
    this.#feed = options.feed;
    this.#adapter = options.adapter;
    this.#logger = options.logger;
    this.#renewMs = options.renewMs ?? 3000;
    this.#leaseMs = options.leaseMs ?? 10_000;
    this.#forwardPerSecond = options.forwardPerSecond ?? FORWARD_PER_SECOND;
    this.#now = options.now ?? Date.now;
    const adapter = options.adapter;
    adapter.handle(WATCH_OP, (payload) => this.#watchedFrom(payload));
    adapter.onMessage((message) => this.#received(message));
    adapter.onNodeDown((node) => this.#forgetNode(node));
    options.feed.onWatch((namespace, watching) => this.#changed(namespace, watching));
  }

  /** Starts the renewals and the expiry of leases. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#announce();
      this.#expire();
      for (const [namespace, { cap }] of this.#forwarding) this.#tellDropped(namespace, cap);
    }, this.#renewMs);
    this.#timer.unref();
  }

  /** Stops forwarding and renewing, and withdraws this node's announcement. Idempotent. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const { remove } of this.#forwarding.values()) remove();
    this.#forwarding.clear();
    this.#leases.clear();
    if (!this.#announced) return;
    this.#announced = false;
    await this.#adapter
      .broadcast(WATCH_OP, { node: this.#adapter.nodeId, namespaces: [], leaseMs: this.#leaseMs })
      .catch((err) => this.#logger.debug({ err }, 'debug feed: watch not withdrawn'));
  }

  /** Namespaces that this node forwards to other nodes (for tests and diagnostics). */
  forwarded(): string[] {
    return [...this.#forwarding.keys()];
  }

  #changed(namespace: string, watching: boolean): void {
    const adapter = this.#adapter;
    const feedNamespace = FEED_PREFIX + namespace;
    const interest = watching
      ? adapter.addInterest(feedNamespace, FEED_CHANNEL)
      : adapter.removeInterest(feedNamespace, FEED_CHANNEL);
    interest.catch((err) => this.#logger.warn({ err, namespace }, 'debug feed: interest not changed'));
    this.#announce();
  }

  #announce(): void {
    const namespaces = this.#feed.watchedHere();
    if (namespaces.length === 0 && !this.#announced) return;
    this.#announced = namespaces.length > 0;
    const payload = { node: this.#adapter.nodeId, namespaces, leaseMs: this.#leaseMs };
    this.#adapter.broadcast(WATCH_OP, payload).catch((err) => {
      // The next renewal tries again; meanwhile the other nodes keep the lease they have.
      this.#logger.debug({ err }, 'debug feed: watch not announced');
    });
  }

  /** Another node's announcement: its leases become exactly the namespaces it names. */
  #watchedFrom(payload: unknown): null {
    const fields = busFields(WATCH_OP, payload, { node: 'string', namespaces: 'array', leaseMs: 'unknown' });
    if (fields.node === this.#adapter.nodeId) return null;
    const { leaseMs } = fields;
    if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) {
      throw new MalformedBusMessage(`${WATCH_OP}: leaseMs must be a positive number`);
    }
    const named = new Set<string>();
    for (const ns of fields.namespaces.slice(0, MAX_NAMESPACES)) {
      if (typeof ns !== 'string' || ns.length > MAX_NAME) {
        throw new MalformedBusMessage(`${WATCH_OP}: namespaces must be strings`);
      }
      named.add(ns);
    }
    for (const [ns, nodes] of this.#leases) if (!named.has(ns)) this.#drop(ns, nodes, fields.node);
    // A lease is never longer than this node's own, whatever the announcement says.
    const until = this.#now() + Math.min(leaseMs, this.#leaseMs * 2);
    for (const ns of named) this.#lease(ns, fields.node, until);
    return null;
  }

  #lease(namespace: string, node: NodeId, until: number): void {
    let nodes = this.#leases.get(namespace);
    if (!nodes) {
      nodes = new Map();
      this.#leases.set(namespace, nodes);
      const cap = new RateCap(this.#forwardPerSecond);
      const remove = this.#feed.addSink(namespace, (event) => this.#forward(namespace, cap, event));
      this.#forwarding.set(namespace, { remove, cap });
    }
    nodes.set(node, until);
  }

  #drop(namespace: string, nodes: Map<NodeId, number>, node: NodeId): void {
    if (!nodes.delete(node) || nodes.size > 0) return;
    this.#leases.delete(namespace);
    this.#forwarding.get(namespace)?.remove();
    this.#forwarding.delete(namespace);
  }

  #expire(): void {
    const now = this.#now();
    for (const [ns, nodes] of this.#leases) {
      for (const [node, until] of nodes) if (until <= now) this.#drop(ns, nodes, node);
    }
  }

  #forgetNode(node: NodeId): void {
    for (const [ns, nodes] of this.#leases) this.#drop(ns, nodes, node);
  }

  /** An event reported here, forwarded when `cap` admits it (after the marker of those it did not). */
  #forward(namespace: string, cap: RateCap, event: DebugEvent): void {
    if (!cap.admit(event.time)) return;
    this.#tellDropped(namespace, cap);
    this.#publish(namespace, event);
  }

  #tellDropped(namespace: string, cap: RateCap): void {
    const marker = cap.takeMarker();
    if (marker) this.#publish(namespace, marker);
  }

  #publish(namespace: string, item: DebugItem): void {
    const message = {
      namespace: FEED_PREFIX + namespace,
      channel: FEED_CHANNEL,
      text: JSON.stringify(item),
    };
    this.#adapter.publish(message).catch((err) => {
      // The console is best effort: a lost event is no reason to disturb the node.
      this.#logger.debug({ err, namespace }, 'debug feed: event not forwarded');
    });
  }

  /**
   * An event or a dropped marker forwarded by another node. This node's own (delivered back locally
   * when it also watches) are skipped: its watchers had them from the feed directly.
   */
  #received(message: ChannelMessage): void {
    if (!message.remote || !message.namespace.startsWith(FEED_PREFIX)) return;
    const item = parseDebugItem(message.text);
    const namespace = message.namespace.slice(FEED_PREFIX.length);
    if (item.type === 'dropped') this.#feed.deliverDropped(namespace, item.count);
    else this.#feed.deliver(namespace, item);
  }
}

/**
 * A forwarded event or dropped marker from the bus, checked field by field and copied, so that nothing
 * but the known fields reaches a watcher; throws `MalformedBusMessage` for anything else.
 */
export function parseDebugItem(text: string): DebugItem {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MalformedBusMessage('debug event: not JSON');
  }
  const raw = busFields('debug event', value, { type: 'string' }) as Record<string, unknown>;
  if (raw.type === 'dropped') {
    const count = raw.count;
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) {
      throw new MalformedBusMessage('debug event: count must be a positive integer');
    }
    return { type: 'dropped', count };
  }
  const fields = busFields('debug event', value, { type: 'string', node: 'string' });
  if (!DEBUG_EVENT_TYPES.has(fields.type)) throw new MalformedBusMessage('debug event: unknown type');
  if (fields.node.length > MAX_NAME) throw new MalformedBusMessage('debug event: node too long');
  const time = raw.time;
  if (typeof time !== 'number' || !Number.isFinite(time)) {
    throw new MalformedBusMessage('debug event: time must be a number');
  }
  const event: DebugEvent = { type: fields.type as DebugEvent['type'], time, node: fields.node };
  for (const name of DEBUG_TEXT_FIELDS) {
    const v = raw[name];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length > MAX_TEXT) {
      throw new MalformedBusMessage(`debug event: ${name} must be a string`);
    }
    event[name] = v;
  }
  for (const name of DEBUG_NUMBER_FIELDS) {
    const v = raw[name];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new MalformedBusMessage(`debug event: ${name} must be a number`);
    }
    event[name] = v;
  }
  if (raw.truncated !== undefined) {
    if (raw.truncated !== true) throw new MalformedBusMessage('debug event: truncated must be true');
    event.truncated = true;
  }
  return event;
}
