import type { Logger } from 'pino';
import { atMost } from '../core/deadline.js';
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
import { type BusMessage, BusTopics, logDropped, parseBusMessage } from './bus-message.js';
import { Membership } from './membership.js';
import { Requests } from './requests.js';

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
  /** Milliseconds since the epoch, for when nodes were last heard from. @default Date.now */
  now?: () => number;
}

/**
 * The cross-node protocol, written once: channel messages routed by interest (a node subscribes to a
 * channel's topic while it has local subscribers), requests to every node with a deadline and
 * broadcasts (`Requests`), node heartbeats and node expiry (`Membership`). A broker only implements
 * `BrokerTransport`.
 */
export class ClusterAdapter implements Adapter {
  readonly nodeId: NodeId;
  readonly #transport: BrokerTransport;
  readonly #logger: Logger;
  readonly #topics: BusTopics;
  readonly #requestTimeoutMs: number;
  readonly #membership: Membership;
  readonly #requests: Requests;
  readonly #messageHandlers: MessageHandler[] = [];
  #state: 'new' | 'running' | 'closed' = 'new';

  constructor(transport: BrokerTransport, options: ClusterOptions) {
    this.#transport = transport;
    this.#logger = options.logger;
    this.nodeId = options.nodeId;
    this.#topics = new BusTopics(options.prefix);
    this.#requestTimeoutMs = options.requestTimeoutMs;
    const send = (topic: string, message: BusMessage) => this.#send(topic, message);
    const common = { logger: options.logger, nodeId: options.nodeId, topics: this.#topics, send };
    this.#requests = new Requests({
      ...common,
      requestTimeoutMs: options.requestTimeoutMs,
      peers: () => this.#membership.ids(),
      running: () => this.#state === 'running',
    });
    this.#membership = new Membership({
      ...common,
      unsubscribed: transport.unsubscribed?.bind(transport),
      heartbeatMs: options.heartbeatMs,
      nodeTimeoutMs: options.nodeTimeoutMs,
      now: options.now ?? Date.now,
      onGone: (node) => this.#requests.forget(node),
    });
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
        logDropped(this.#logger, err, topic, { namespace: message.namespace });
      }
    }
  }

  onNodeDown(handler: (nodeId: NodeId) => void): void {
    this.#membership.onNodeDown(handler);
  }

  /** Ids of the other nodes currently alive. */
  get peers(): NodeId[] {
    return this.#membership.peers;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    await this.#transport.connect();
    await this.#transport.subscribe(this.#topics.all);
    await this.#transport.subscribe(this.#topics.node(this.nodeId));
    this.#state = 'running';
    await this.#membership.start();
  }

  async close(options: CloseOptions = {}): Promise<void> {
    if (this.#state === 'closed') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'closed';
    this.#membership.close();
    this.#requests.close();
    if (wasRunning) {
      // A broker that is down would hold the goodbye (and shutdown) forever; without it the others
      // notice the missing heartbeats instead.
      const bye: BusMessage = { t: 'bye', n: this.nodeId };
      if (options.handoverMs) bye.h = options.handoverMs;
      const goodbye = this.#send(this.#topics.all, bye).catch((err) => {
        this.#logger.debug({ err }, 'goodbye not sent');
      });
      await atMost(goodbye, this.#requestTimeoutMs);
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
    if (message.stream !== undefined)
      bus.s = message.stream === null ? null : { e: message.stream.epoch, o: message.stream.offset };
    this.#membership.publishing();
    await this.#send(this.#topics.channel(message.namespace, message.channel), bus);
  }

  /**
   * Resolves once the broker confirmed the subscription. While this node is cut off from the broker it
   * resolves at once, and when the broker is slower than the request deadline it resolves then: local
   * subscribers are served meanwhile, and the transport completes the subscription when it can. Rejects
   * only when the broker refused.
   */
  addInterest(namespace: Namespace, channel: string): Promise<void> {
    const subscribed = this.#transport.subscribe(this.#topics.channel(namespace, channel));
    const refused = (err: unknown) =>
      this.#logger.error({ err, namespace, channel }, 'broker refused interest');
    // The outage itself is logged once, not once per channel.
    if (this.#membership.cutOff) {
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
    return this.#transport.unsubscribe(this.#topics.channel(namespace, channel));
  }

  handle(op: string, handler: RequestHandler): void {
    this.#requests.handle(op, handler);
  }

  request<T>(op: string, payload: unknown): Promise<RequestResult<T>> {
    return this.#requests.request<T>(op, payload);
  }

  async broadcast(op: string, payload: unknown): Promise<void> {
    await this.#requests.local(op, payload);
    await this.#send(this.#topics.all, { t: 'cast', n: this.nodeId, op, p: payload });
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
      if (message.t === 'hb') this.#membership.heardSelf();
      return; // our own publish, already delivered locally
    }
    this.#membership.heard(message);
    switch (message.t) {
      case 'msg':
        // Interest routing is by topic: a message whose topic is not its channel's is not one of ours.
        if (topic !== this.#topics.channel(message.ns, message.ch)) {
          this.#logger.warn(
            { topic, reason: 'a channel message on another topic' },
            'malformed cluster message dropped',
          );
          return;
        }
        this.#deliverRemote(
          {
            namespace: message.ns,
            channel: message.ch,
            text: message.d,
            except: message.x,
            // Only on a stream channel's messages, so that others are delivered as they were sent.
            ...(message.s === undefined
              ? {}
              : { stream: message.s === null ? null : { epoch: message.s.e, offset: message.s.o } }),
            remote: true,
          },
          topic,
        );
        return;
      case 'req':
        this.#requests.answer(message, topic);
        return;
      case 'cast':
        this.#requests.cast(message, topic);
        return;
      case 'res':
        this.#requests.answered(message);
        return;
      case 'hb':
      case 'bye':
        return; // membership only
    }
  }

  #send(topic: string, message: BusMessage): Promise<void> {
    return this.#transport.publish(topic, JSON.stringify(message));
  }
}
