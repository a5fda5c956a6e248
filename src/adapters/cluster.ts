import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type {
  Adapter,
  ChannelMessage,
  CloseOptions,
  MessageHandler,
  Namespace,
  NodeId,
  RequestHandler,
  RequestResult,
} from './adapter.js';
import { MalformedBusMessage } from './bus-payload.js';

/**
 * What a broker must offer the cluster layer: topics with publish and subscribe. Redis pub/sub and NATS
 * subjects are thin implementations of it. Any extending transport must deliver a message published to
 * a topic to every current subscriber of that topic, at most once, in publish order per publisher.
 */
export interface BrokerTransport {
  /** Called for every message on a subscribed topic. Set once, before `connect`. */
  onMessage(handler: (topic: string, payload: string) => void): void;
  connect(): Promise<void>;
  publish(topic: string, payload: string): Promise<void>;
  /** Resolves once messages on `topic` are being received. Rejects when the broker refused. */
  subscribe(topic: string): Promise<void>;
  unsubscribe(topic: string): Promise<void>;
  /**
   * Optional: true when the broker knows that nobody subscribes to `topic` any more (the subscriber's
   * connection closed), false when someone does, undefined when the broker cannot tell.
   */
  unsubscribed?(topic: string): Promise<boolean | undefined>;
  close(): Promise<void>;
}

/** Every field comes from the composition root; the defaults are the config schema's (`adapter.*`). */
export interface ClusterOptions {
  logger: Logger;
  /** This node's id on the bus; the stores of the same set key this node's entries by it. */
  nodeId: NodeId;
  /** Topic prefix shared by the nodes of one cluster. */
  prefix: string;
  /** How often a node says it is alive. */
  heartbeatMs: number;
  /**
   * A node silent this long is declared down and cleaned up after. One whose broker connection is gone
   * (the broker says so twice, a heartbeat apart) is declared down sooner.
   */
  nodeTimeoutMs: number;
  /** How long `request` waits for the other nodes. */
  requestTimeoutMs: number;
}

/** Messages on the bus; short keys because channel messages cross it once per publish. */
type BusMessage =
  | { t: 'msg'; n: NodeId; ns: string; ch: string; d: string; x?: string }
  | { t: 'hb'; n: NodeId }
  | { t: 'bye'; n: NodeId; h?: number }
  | { t: 'req'; n: NodeId; id: string; op: string; p: unknown }
  | { t: 'cast'; n: NodeId; op: string; p: unknown }
  | { t: 'res'; n: NodeId; id: string; r: unknown };

interface Pending {
  answers: unknown[];
  waiting: Set<NodeId>;
  done: (complete: boolean) => void;
  timer: NodeJS.Timeout;
}

/**
 * The cross-node protocol, written once: channel messages routed by interest (a node subscribes to a
 * channel's topic while it has local subscribers), requests to every node with a deadline, broadcasts,
 * node heartbeats and node expiry. A broker only implements `BrokerTransport`.
 */
export class ClusterAdapter implements Adapter {
  readonly nodeId: NodeId;
  readonly #transport: BrokerTransport;
  readonly #logger: Logger;
  readonly #prefix: string;
  readonly #heartbeatMs: number;
  readonly #nodeTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #handlers = new Map<string, RequestHandler>();
  /** Other live nodes and when each was last heard from. */
  readonly #nodes = new Map<NodeId, number>();
  readonly #pending = new Map<string, Pending>();
  readonly #nodeDown: ((nodeId: NodeId) => void)[] = [];
  /** Clean-ups after nodes that left with a handover, due when it is over. */
  readonly #handovers = new Set<NodeJS.Timeout>();
  readonly #messageHandlers: MessageHandler[] = [];
  #heartbeat: NodeJS.Timeout | undefined;
  #state: 'new' | 'running' | 'closed' = 'new';
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
  /** Deadlines of the broker's answers about silent nodes. */
  readonly #probeTimers = new Set<NodeJS.Timeout>();

  constructor(transport: BrokerTransport, options: ClusterOptions) {
    this.#transport = transport;
    this.#logger = options.logger;
    this.nodeId = options.nodeId;
    this.#prefix = options.prefix;
    this.#heartbeatMs = options.heartbeatMs;
    this.#nodeTimeoutMs = options.nodeTimeoutMs;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    transport.onMessage((topic, payload) => {
      try {
        this.#receive(topic, payload);
      } catch (err) {
        // A bug here must not take the broker client's event loop (and the process) down with it.
        this.#logger.error({ err, topic }, 'cluster message failed');
      }
    });
  }

  onMessage(handler: MessageHandler): void {
    this.#messageHandlers.push(handler);
  }

  #deliver(message: ChannelMessage): void {
    for (const deliver of this.#messageHandlers) deliver(message);
  }

  /** Another node's channel message: each handler checks it; one that refuses it does not stop the others. */
  #deliverRemote(message: ChannelMessage, topic: string): void {
    for (const deliver of this.#messageHandlers) {
      try {
        deliver(message);
      } catch (err) {
        this.#dropped(err, topic, { namespace: message.namespace });
      }
    }
  }

  /** Logs a message from the bus that could not be used: at warn when malformed, else as a failure. */
  #dropped(err: unknown, topic: string, context: Record<string, unknown>): void {
    if (err instanceof MalformedBusMessage) {
      this.#logger.warn({ topic, ...context, reason: err.message }, 'malformed cluster message dropped');
    } else {
      this.#logger.error({ err, topic, ...context }, 'cluster message failed');
    }
  }

  onNodeDown(handler: (nodeId: NodeId) => void): void {
    this.#nodeDown.push(handler);
  }

  /** Ids of the other nodes currently alive. */
  get peers(): NodeId[] {
    return [...this.#nodes.keys()];
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    await this.#transport.connect();
    await this.#transport.subscribe(this.#allTopic());
    await this.#transport.subscribe(this.#nodeTopic(this.nodeId));
    this.#state = 'running';
    await this.#send(this.#allTopic(), { t: 'hb', n: this.nodeId });
    this.#selfSeen = Date.now();
    this.#heartbeat = setInterval(() => this.#tick(), this.#heartbeatMs);
  }

  async close(options: CloseOptions = {}): Promise<void> {
    if (this.#state === 'closed') return;
    for (const timer of this.#handovers) clearTimeout(timer);
    this.#handovers.clear();
    const wasRunning = this.#state === 'running';
    this.#state = 'closed';
    clearInterval(this.#heartbeat);
    for (const timer of this.#probeTimers) clearTimeout(timer);
    this.#probeTimers.clear();
    for (const pending of this.#pending.values()) pending.done(false);
    if (wasRunning) {
      // A broker that is down would hold the goodbye (and shutdown) forever; without it the others
      // notice the missing heartbeats instead.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#requestTimeoutMs);
      });
      const bye: BusMessage = { t: 'bye', n: this.nodeId };
      if (options.handoverMs) bye.h = options.handoverMs;
      const goodbye = this.#send(this.#allTopic(), bye).catch((err) => {
        this.#logger.debug({ err }, 'goodbye not sent');
      });
      await Promise.race([goodbye, deadline]);
      clearTimeout(timer);
    }
    await this.#transport.close();
  }

  async publish(message: ChannelMessage): Promise<void> {
    this.#deliver(message);
    const bus: BusMessage = {
      t: 'msg',
      n: this.nodeId,
      ns: message.namespace,
      ch: message.channel,
      d: message.text,
    };
    if (message.except !== undefined) bus.x = message.except;
    if (this.#cutOff) this.#sentWhileCutOff++;
    await this.#send(this.#channelTopic(message.namespace, message.channel), bus);
  }

  /**
   * Resolves once the broker confirmed the subscription. While this node is cut off from the broker it
   * resolves at once, and when the broker is slower than the request deadline it resolves then: local
   * subscribers are served meanwhile, and the transport completes the subscription when it can. Rejects
   * only when the broker refused.
   */
  addInterest(namespace: Namespace, channel: string): Promise<void> {
    const subscribed = this.#transport.subscribe(this.#channelTopic(namespace, channel));
    const refused = (err: unknown) =>
      this.#logger.error({ err, namespace, channel }, 'broker refused interest');
    // The outage itself is logged once, not once per channel.
    if (this.#cutOff) {
      subscribed.catch(refused);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        this.#logger.warn(
          { namespace, channel },
          'broker slow to confirm interest; serving local subscribers',
        );
        resolve();
      }, this.#requestTimeoutMs);
      subscribed.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err: unknown) => {
          clearTimeout(timer);
          if (late) refused(err);
          else reject(err);
        },
      );
    });
  }

  removeInterest(namespace: Namespace, channel: string): Promise<void> {
    return this.#transport.unsubscribe(this.#channelTopic(namespace, channel));
  }

  handle(op: string, handler: RequestHandler): void {
    this.#handlers.set(op, handler);
  }

  async request<T>(op: string, payload: unknown): Promise<RequestResult<T>> {
    const local = this.#handlers.get(op);
    const own = local ? [(await local(payload)) as T] : [];
    const waiting = new Set(this.#nodes.keys());
    if (waiting.size === 0 || this.#state !== 'running')
      return { answers: own, complete: waiting.size === 0 };
    const id = randomUUID();
    const answers: unknown[] = [];
    const complete = await new Promise<boolean>((resolve) => {
      const pending: Pending = {
        answers,
        waiting,
        done: (ok) => {
          clearTimeout(pending.timer);
          this.#pending.delete(id);
          resolve(ok);
        },
        timer: setTimeout(() => pending.done(false), this.#requestTimeoutMs),
      };
      this.#pending.set(id, pending);
      this.#send(this.#allTopic(), { t: 'req', n: this.nodeId, id, op, p: payload }).catch((err) => {
        this.#logger.warn({ err, op }, 'cluster request not sent');
        pending.done(false);
      });
    });
    if (!complete) this.#logger.warn({ op, missing: [...waiting] }, 'cluster request incomplete');
    return { answers: [...own, ...(answers as T[])], complete };
  }

  async broadcast(op: string, payload: unknown): Promise<void> {
    await this.#handlers.get(op)?.(payload);
    await this.#send(this.#allTopic(), { t: 'cast', n: this.nodeId, op, p: payload });
  }

  #tick(): void {
    this.#send(this.#allTopic(), { t: 'hb', n: this.nodeId }).catch((err) => {
      this.#logger.warn({ err }, 'heartbeat not sent');
    });
    const now = Date.now();
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
   * Asks the broker whether a node that missed a heartbeat still holds its subscription. A crashed
   * process's connection is closed by its operating system, and the broker drops its subscriptions at
   * once; a busy or paused process keeps them. Two answers in a row, a heartbeat apart, must say gone:
   * a connection being re-established in between does not make a live node dead.
   */
  #probe(node: NodeId, seen: number): void {
    const ask = this.#transport.unsubscribed?.bind(this.#transport);
    if (!ask) return;
    const suspect = this.#suspects.get(node) ?? { probing: false, gone: 0 };
    if (suspect.probing) return;
    suspect.probing = true;
    this.#suspects.set(node, suspect);
    let timer: NodeJS.Timeout | undefined;
    const unanswered = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.#heartbeatMs);
      this.#probeTimers.add(timer);
    });
    Promise.race([ask(this.#nodeTopic(node)), unanswered])
      .catch((err: unknown) => {
        this.#logger.debug({ err, node }, 'broker not asked about a silent node');
        return undefined;
      })
      .then((gone) => {
        clearTimeout(timer);
        this.#probeTimers.delete(timer!);
        suspect.probing = false;
        // Heard from meanwhile, or already dealt with: the answer is stale.
        if (this.#state !== 'running' || this.#nodes.get(node) !== seen) return;
        suspect.gone = gone === true ? suspect.gone + 1 : 0;
        if (suspect.gone >= 2) this.#declareDown(node, 'connection gone');
      });
  }

  #declareDown(node: NodeId, reason: string): void {
    const seen = this.#nodes.get(node);
    if (seen === undefined) return;
    this.#nodes.delete(node);
    this.#suspects.delete(node);
    this.#forgetInRequests(node);
    this.#logger.warn({ node, silentMs: Date.now() - seen }, `node down: ${reason}`);
    for (const handler of this.#nodeDown) handler(node);
  }

  #receive(topic: string, payload: string): void {
    let message: BusMessage;
    try {
      message = parseBusMessage(payload);
    } catch (err) {
      this.#logger.warn({ topic, reason: (err as Error).message }, 'malformed cluster message dropped');
      return;
    }
    if (message.n === this.nodeId) {
      if (message.t === 'hb') this.#heardSelf();
      return; // our own publish, already delivered locally
    }
    const known = this.#nodes.has(message.n);
    // Nodes announce themselves with a heartbeat (at start, then every heartbeatMs): other messages
    // only refresh a node already known, so a stray message does not make up a peer to wait for.
    if (message.t === 'hb' || (known && message.t !== 'bye')) {
      this.#nodes.set(message.n, Date.now());
      const suspect = this.#suspects.get(message.n);
      if (suspect) suspect.gone = 0;
      if (!known) this.#logger.info({ node: message.n }, 'node up');
      // A newcomer learns of this node at once instead of at its next heartbeat.
      if (!known && message.t === 'hb') {
        this.#send(this.#nodeTopic(message.n), { t: 'hb', n: this.nodeId }).catch((err) => {
          this.#logger.debug({ err }, 'greeting not sent');
        });
      }
    }
    switch (message.t) {
      case 'msg':
        // Interest routing is by topic: a message whose topic is not its channel's is not one of ours.
        if (topic !== this.#channelTopic(message.ns, message.ch)) {
          this.#logger.warn(
            { topic, reason: 'a channel message on another topic' },
            'malformed cluster message dropped',
          );
          return;
        }
        this.#deliverRemote(
          { namespace: message.ns, channel: message.ch, text: message.d, except: message.x, remote: true },
          topic,
        );
        return;
      case 'hb':
        return;
      case 'bye':
        this.#nodes.delete(message.n);
        this.#suspects.delete(message.n);
        this.#forgetInRequests(message.n);
        // Only a node that was part of the cluster has entries to hand over.
        if (known && typeof message.h === 'number' && Number.isFinite(message.h) && message.h > 0) {
          this.#takeOver(message.n, Math.min(message.h, MAX_HANDOVER_MS));
        }
        return;
      case 'req':
        this.#answer(message, topic);
        return;
      case 'cast':
        this.#run(message.op, message.p).catch((err) =>
          this.#dropped(err, topic, { op: message.op, node: message.n }),
        );
        return;
      case 'res': {
        const pending = this.#pending.get(message.id);
        if (!pending?.waiting.delete(message.n)) return;
        pending.answers.push(message.r);
        if (pending.waiting.size === 0) pending.done(true);
        return;
      }
    }
  }

  #heardSelf(): void {
    const now = Date.now();
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

  async #run(op: string, payload: unknown): Promise<unknown> {
    const handler = this.#handlers.get(op);
    if (!handler) throw new MalformedBusMessage(`no operation "${op}" on this node`);
    return handler(payload);
  }

  #answer(message: Extract<BusMessage, { t: 'req' }>, topic: string): void {
    this.#run(message.op, message.p)
      .then(
        (r) => this.#send(this.#nodeTopic(message.n), { t: 'res', n: this.nodeId, id: message.id, r }),
        (err: unknown) => this.#dropped(err, topic, { op: message.op, node: message.n }),
      )
      .catch((err) => this.#logger.error({ err, op: message.op }, 'cluster request not answered'));
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

  #forgetInRequests(node: NodeId): void {
    for (const pending of this.#pending.values()) {
      if (pending.waiting.delete(node) && pending.waiting.size === 0) pending.done(true);
    }
  }

  #send(topic: string, message: BusMessage): Promise<void> {
    return this.#transport.publish(topic, JSON.stringify(message));
  }

  #allTopic(): string {
    return `${this.#prefix}.all`;
  }

  #nodeTopic(node: NodeId): string {
    return `${this.#prefix}.node.${node}`;
  }

  /** Channel names may hold characters brokers treat specially ('.', '*'); base64url keeps topics plain. */
  #channelTopic(namespace: Namespace, channel: string): string {
    return `${this.#prefix}.ch.${Buffer.from(`${namespace}\0${channel}`).toString('base64url')}`;
  }
}

/** A node's clean-up waits at most this long for a handover, whatever its goodbye says. */
const MAX_HANDOVER_MS = 60_000;

const TYPES = new Set(['msg', 'hb', 'bye', 'req', 'cast', 'res']);
/** Node and request ids are UUIDs; anything much longer is not one of ours. */
const MAX_ID_LENGTH = 128;

/** Only plain JSON of the expected shape crosses the bus; anything else is refused. */
/** What a node id may be made of (see `parseBusMessage`). */
const NODE_ID = /^[A-Za-z0-9_-]+$/;

export function parseBusMessage(payload: string): BusMessage {
  const m = JSON.parse(payload) as unknown;
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new Error('not a cluster message');
  const f = m as Record<string, unknown>;
  const id = (k: string) => typeof f[k] === 'string' && f[k] !== '' && f[k].length <= MAX_ID_LENGTH;
  if (!TYPES.has(f.t as string) || !id('n')) throw new Error('not a cluster message');
  // A node id becomes part of broker subjects and keys (its own topic, its presence and outbox entries):
  // only the characters a node's own id (a UUID) is made of, so that a forged one cannot name others.
  if (!NODE_ID.test(f.n as string)) throw new Error('malformed node id');
  const str = (k: string) => typeof f[k] === 'string';
  const ok =
    f.t === 'msg'
      ? str('ns') && str('ch') && str('d') && (f.x === undefined || str('x'))
      : f.t === 'req'
        ? id('id') && str('op')
        : f.t === 'cast'
          ? str('op')
          : f.t === 'res'
            ? id('id')
            : f.t === 'bye'
              ? f.h === undefined || typeof f.h === 'number'
              : true;
  if (!ok) throw new Error(`malformed ${String(f.t)} message`);
  return f as unknown as BusMessage;
}
