import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { atMost } from '../core/deadline.js';
import type { NodeId } from './adapter.js';
import type { BusMessage, BusTopics, SendBusMessage } from './bus-message.js';

/** A node's clean-up waits at most this long for a handover, whatever its goodbye says. */
const MAX_HANDOVER_MS = 60_000;

/** Every field comes from the cluster adapter (see `ClusterOptions` for the timings). */
export interface MembershipOptions {
  logger: Logger;
  nodeId: NodeId;
  topics: BusTopics;
  send: SendBusMessage;
  /**
   * Whether nobody subscribes to a topic any more (`BrokerTransport.unsubscribed`); absent when the
   * broker cannot tell.
   */
  unsubscribed?: ((topic: string) => Promise<boolean | undefined>) | undefined;
  heartbeatMs: number;
  nodeTimeoutMs: number;
  /** Milliseconds since the epoch: when a node was last heard from, and how long ago that was. */
  now: () => number;
  /** A node stopped being a member (declared down, or said goodbye): called before anything else. */
  onGone: (node: NodeId) => void;
}

/**
 * Which other nodes are alive: heartbeats (this node's, and the others' it hears), expiry of nodes
 * silent for a node timeout, the broker asked about nodes that missed a heartbeat, goodbyes with a
 * handover, and this node's own cut-off from the broker (its heartbeats stop coming back), during which
 * the others' silence proves nothing.
 */
export class Membership {
  readonly #logger: Logger;
  readonly #nodeId: NodeId;
  readonly #topics: BusTopics;
  readonly #send: SendBusMessage;
  readonly #unsubscribed: MembershipOptions['unsubscribed'];
  readonly #heartbeatMs: number;
  readonly #nodeTimeoutMs: number;
  readonly #now: () => number;
  readonly #onGone: (node: NodeId) => void;
  /** Other live nodes and when each was last heard from. */
  readonly #nodes = new Map<NodeId, number>();
  readonly #nodeDown: ((nodeId: NodeId) => void)[] = [];
  /** Clean-ups after nodes that left with a handover, due when it is over. */
  readonly #handovers = new Set<NodeJS.Timeout>();
  /** Aborted on close: the broker's answers about silent nodes are no longer waited for. */
  readonly #closing = new AbortController();
  #heartbeat: NodeJS.Timeout | undefined;
  /** When this node's own heartbeat last came back through the broker. */
  #selfSeen = 0;
  /**
   * When this node's own heartbeats came back after a gap (its broker link was down or being
   * re-established, a failover for one). The broker's word on a node last heard from before then is
   * not taken: that node may simply not have re-subscribed yet.
   */
  #linkBackAt = 0;
  /** This node's heartbeats stopped coming back for a node timeout: it, not its peers, is cut off. */
  #cutOff = false;
  /** Channel messages published for other nodes while cut off: late if the broker queued them, else lost. */
  #sentWhileCutOff = 0;
  /** Silent nodes the broker was asked about, and how many answers in a row said their connection is gone. */
  readonly #suspects = new Map<NodeId, { probing: boolean; gone: number }>();

  constructor(options: MembershipOptions) {
    this.#logger = options.logger;
    this.#nodeId = options.nodeId;
    this.#topics = options.topics;
    this.#send = options.send;
    this.#unsubscribed = options.unsubscribed;
    this.#heartbeatMs = options.heartbeatMs;
    this.#nodeTimeoutMs = options.nodeTimeoutMs;
    this.#now = options.now;
    this.#onGone = options.onGone;
    // One listener per silent node being asked about: many at once is a partition, not a leak.
    setMaxListeners(0, this.#closing.signal);
  }

  /** Ids of the other nodes currently alive. */
  get peers(): NodeId[] {
    return [...this.#nodes.keys()];
  }

  /** Ids of the other nodes currently alive, without a copy. */
  ids(): IterableIterator<NodeId> {
    return this.#nodes.keys();
  }

  /** Whether this node's own heartbeats stopped coming back for a node timeout. */
  get cutOff(): boolean {
    return this.#cutOff;
  }

  /** See `Adapter.onNodeDown`; also called once a node's handover is over. */
  onNodeDown(handler: (nodeId: NodeId) => void): void {
    this.#nodeDown.push(handler);
  }

  /** Announces this node, then says it is alive every `heartbeatMs` until `close`. */
  async start(): Promise<void> {
    await this.#send(this.#topics.all, { t: 'hb', n: this.#nodeId });
    this.#selfSeen = this.#now();
    this.#heartbeat = setInterval(() => this.tick(), this.#heartbeatMs);
  }

  /** Stops the heartbeats, the pending handovers and the questions to the broker. */
  close(): void {
    for (const timer of this.#handovers) clearTimeout(timer);
    this.#handovers.clear();
    clearInterval(this.#heartbeat);
    this.#closing.abort();
  }

  /** A channel message is being published for the other nodes. */
  publishing(): void {
    if (this.#cutOff) this.#sentWhileCutOff++;
  }

  /** One heartbeat: says this node is alive, then looks for nodes gone silent. */
  tick(): void {
    this.#send(this.#topics.all, { t: 'hb', n: this.#nodeId }).catch((err) => {
      this.#logger.warn({ err }, 'heartbeat not sent');
    });
    const now = this.#now();
    const silent = now - this.#selfSeen;
    // Our own heartbeats come back through the broker. While they do not, this node may be the one cut
    // off (broker down or unreachable, process stalled): the others' silence proves nothing, and
    // expiring them would remove live nodes' presence once the broker is back.
    if (silent >= this.#nodeTimeoutMs / 2) {
      if (silent >= this.#nodeTimeoutMs && !this.#cutOff) {
        this.#cutOff = true;
        this.#logger.warn({ silentMs: silent }, 'cut off from the broker');
      }
      return;
    }
    // The broker is asked about silent nodes only while this node's own link is sound (its last
    // heartbeat came back) and about nodes heard from since that link was last re-established.
    const linkSound = silent < 1.5 * this.#heartbeatMs;
    for (const [node, seen] of this.#nodes) {
      if (now - seen >= this.#nodeTimeoutMs) this.#declareDown(node, 'no heartbeat');
      else if (linkSound && seen >= this.#linkBackAt && now - seen >= 1.5 * this.#heartbeatMs) {
        this.#probe(node, seen);
      }
    }
  }

  /**
   * Another node's message. Nodes announce themselves with a heartbeat (at start, then every
   * heartbeatMs): other messages only refresh a node already known, so a stray message does not make
   * up a peer to wait for. A goodbye ends the node's membership.
   */
  heard(message: BusMessage): void {
    const node = message.n;
    const known = this.#nodes.has(node);
    if (message.t === 'bye') {
      this.#forget(node);
      // Only a node that was part of the cluster has entries to hand over.
      const h = message.h;
      if (known && typeof h === 'number' && Number.isFinite(h) && h > 0) {
        this.#takeOver(node, Math.min(h, MAX_HANDOVER_MS));
      }
      return;
    }
    if (message.t !== 'hb' && !known) return;
    this.#nodes.set(node, this.#now());
    const suspect = this.#suspects.get(node);
    if (suspect) suspect.gone = 0;
    if (known) return;
    this.#logger.info({ node }, 'node up');
    // A newcomer learns of this node at once instead of at its next heartbeat.
    if (message.t === 'hb') {
      this.#send(this.#topics.node(node), { t: 'hb', n: this.#nodeId }).catch((err) => {
        this.#logger.debug({ err }, 'greeting not sent');
      });
    }
  }

  /** This node's own heartbeat came back through the broker. */
  heardSelf(): void {
    const now = this.#now();
    const silent = now - this.#selfSeen;
    this.#selfSeen = now;
    if (silent >= 1.5 * this.#heartbeatMs) this.#linkBackAt = now;
    if (silent < this.#nodeTimeoutMs / 2) return;
    // The others' heartbeats were lost with ours: each gets a full timeout to be heard again.
    for (const node of this.#nodes.keys()) this.#nodes.set(node, now);
    if (!this.#cutOff) return;
    this.#cutOff = false;
    // What was published meanwhile reaches the other nodes late (the client queued it) or not at all.
    const inFlight = this.#sentWhileCutOff;
    this.#sentWhileCutOff = 0;
    this.#logger.info(
      { peers: this.#nodes.size, silentMs: silent, publishedWhileCutOff: inFlight },
      'back on the broker',
    );
  }

  /**
   * Asks the broker whether a node that missed a heartbeat still holds its subscription. A crashed
   * process's connection is closed by its operating system, and the broker drops its subscriptions at
   * once; a busy or paused process keeps them. Two answers in a row, a heartbeat apart, must say gone:
   * a connection being re-established in between does not make a live node dead.
   */
  #probe(node: NodeId, seen: number): void {
    const ask = this.#unsubscribed;
    if (!ask) return;
    const suspect = this.#suspects.get(node) ?? { probing: false, gone: 0 };
    if (suspect.probing) return;
    suspect.probing = true;
    this.#suspects.set(node, suspect);
    const signal = this.#closing.signal;
    atMost(ask(this.#topics.node(node)), this.#heartbeatMs, signal)
      .catch((err: unknown) => {
        this.#logger.debug({ err, node }, 'broker not asked about a silent node');
        return undefined;
      })
      .then((gone) => {
        suspect.probing = false;
        // Heard from meanwhile, or already dealt with: the answer is stale.
        if (signal.aborted || this.#nodes.get(node) !== seen) return;
        suspect.gone = gone === true ? suspect.gone + 1 : 0;
        if (suspect.gone >= 2) this.#declareDown(node, 'connection gone');
      });
  }

  #declareDown(node: NodeId, reason: string): void {
    const seen = this.#nodes.get(node);
    if (seen === undefined) return;
    this.#forget(node);
    this.#logger.warn({ node, silentMs: this.#now() - seen }, `node down: ${reason}`);
    for (const handler of this.#nodeDown) handler(node);
  }

  #forget(node: NodeId): void {
    this.#nodes.delete(node);
    this.#suspects.delete(node);
    this.#onGone(node);
  }

  /** A node left its entries to us: clean up after it, as after a dead one, once its handover is over. */
  #takeOver(node: NodeId, afterMs: number): void {
    const timer = setTimeout(() => {
      this.#handovers.delete(timer);
      this.#logger.info({ node }, 'handover over: cleaning up after the node');
      for (const handler of this.#nodeDown) handler(node);
    }, afterMs);
    this.#handovers.add(timer);
  }
}
