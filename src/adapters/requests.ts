import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { NodeId, RequestHandler, RequestResult } from './adapter.js';
import { type BusMessage, type BusTopics, logDropped, type SendBusMessage } from './bus-message.js';
import { MalformedBusMessage } from './bus-payload.js';

/** Every field comes from the cluster adapter (see `ClusterOptions` for the deadline). */
export interface RequestsOptions {
  logger: Logger;
  nodeId: NodeId;
  topics: BusTopics;
  send: SendBusMessage;
  /** How long `request` waits for the other nodes. */
  requestTimeoutMs: number;
  /** The other nodes currently alive: those a request waits for. */
  peers: () => Iterable<NodeId>;
  /** Whether requests may go out on the bus (the adapter is started and not closed). */
  running: () => boolean;
}

interface Pending {
  answers: unknown[];
  waiting: Set<NodeId>;
  done: (complete: boolean) => void;
  timer: NodeJS.Timeout;
}

/**
 * Questions to every node, with a deadline, and this node's answers to theirs: one generic primitive,
 * an operation name and a payload, answered by the handlers registered by name.
 */
export class Requests {
  readonly #logger: Logger;
  readonly #nodeId: NodeId;
  readonly #topics: BusTopics;
  readonly #send: SendBusMessage;
  readonly #requestTimeoutMs: number;
  readonly #peers: () => Iterable<NodeId>;
  readonly #running: () => boolean;
  readonly #handlers = new Map<string, RequestHandler>();
  readonly #pending = new Map<string, Pending>();

  constructor(options: RequestsOptions) {
    this.#logger = options.logger;
    this.#nodeId = options.nodeId;
    this.#topics = options.topics;
    this.#send = options.send;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#peers = options.peers;
    this.#running = options.running;
  }

  /** See `Adapter.handle`. */
  handle(op: string, handler: RequestHandler): void {
    this.#handlers.set(op, handler);
  }

  /** See `Adapter.request`. */
  async request<T>(op: string, payload: unknown): Promise<RequestResult<T>> {
    const local = this.#handlers.get(op);
    const own = local ? [(await local(payload)) as T] : [];
    const waiting = new Set(this.#peers());
    if (waiting.size === 0 || !this.#running()) return { answers: own, complete: waiting.size === 0 };
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
      this.#send(this.#topics.all, { t: 'req', n: this.#nodeId, id, op, p: payload }).catch((err) => {
        this.#logger.warn({ err, op }, 'cluster request not sent');
        pending.done(false);
      });
    });
    if (!complete) this.#logger.warn({ op, missing: [...waiting] }, 'cluster request incomplete');
    return { answers: [...own, ...(answers as T[])], complete };
  }

  /** See `Adapter.broadcast`: this node's part of it. */
  async local(op: string, payload: unknown): Promise<void> {
    await this.#handlers.get(op)?.(payload);
  }

  /** Another node's request: this node's answer goes back to that node alone. */
  answer(message: Extract<BusMessage, { t: 'req' }>, topic: string): void {
    this.#run(message.op, message.p)
      .then(
        (r) => this.#send(this.#topics.node(message.n), { t: 'res', n: this.#nodeId, id: message.id, r }),
        (err: unknown) => logDropped(this.#logger, err, topic, { op: message.op, node: message.n }),
      )
      .catch((err) => this.#logger.error({ err, op: message.op }, 'cluster request not answered'));
  }

  /** Another node's broadcast: run here, answered to nobody. */
  cast(message: Extract<BusMessage, { t: 'cast' }>, topic: string): void {
    this.#run(message.op, message.p).catch((err) =>
      logDropped(this.#logger, err, topic, { op: message.op, node: message.n }),
    );
  }

  /** Another node's answer to one of this node's requests; a stray or repeated one is ignored. */
  answered(message: Extract<BusMessage, { t: 'res' }>): void {
    const pending = this.#pending.get(message.id);
    if (!pending?.waiting.delete(message.n)) return;
    pending.answers.push(message.r);
    if (pending.waiting.size === 0) pending.done(true);
  }

  /** A node is gone: requests stop waiting for it, and those it alone held back are complete. */
  forget(node: NodeId): void {
    for (const pending of this.#pending.values()) {
      if (pending.waiting.delete(node) && pending.waiting.size === 0) pending.done(true);
    }
  }

  /** Requests still waiting end now, incomplete. */
  close(): void {
    for (const pending of this.#pending.values()) pending.done(false);
  }

  async #run(op: string, payload: unknown): Promise<unknown> {
    const handler = this.#handlers.get(op);
    if (!handler) throw new MalformedBusMessage(`no operation "${op}" on this node`);
    return handler(payload);
  }
}
