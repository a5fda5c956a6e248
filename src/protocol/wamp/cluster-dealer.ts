import { Outgoing } from './codec.js';
import {
  CALLEE_LEFT,
  checkCall,
  checkRegister,
  type Dealer,
  type DealerContext,
  type MemoryDealer,
  type Registration,
  rememberEnded,
} from './dealer.js';
import { ProtocolViolation, WampError, WampUri } from './errors.js';
import { getOrCreate } from './maps.js';
import { type Dict, MessageType, out } from './messages.js';
import { optBool, optString } from './options.js';
import { isDict, Payload } from './payload.js';
import type { Peer } from './peer.js';
import type { InvokePolicy } from './registrations.js';
import { jsonSerializer } from './serializers/json.js';
import { isReserved, type MatchPolicy } from './uri.js';
import { UriMap } from './uri-map.js';

/** What the cluster answered to a lookup (`RealmRpc.lookup`). */
export interface ClusterLookup {
  readonly found: NodeRegistration[];
  readonly complete: boolean;
}

/** A node's registration, as it answers the cluster. */
export interface NodeRegistration {
  readonly node: string;
  readonly uri: string;
  readonly match: MatchPolicy;
  readonly invoke: InvokePolicy;
  /** How many callees it has on the node, and when the oldest and the newest registered (ms). */
  readonly callees: number;
  readonly oldest: number;
  readonly newest: number;
}

/** A registration as the cluster sees it (see `NodeRegistration`). */
export function nodeRegistration(node: string, r: Registration): NodeRegistration {
  const times = r.callees.map((c) => c.since);
  const [oldest, newest] = [Math.min(...times), Math.max(...times)];
  return { node, uri: r.uri, match: r.match, invoke: r.invoke, callees: r.callees.length, oldest, newest };
}

/** What a realm's dealer needs of the cluster. */
export interface RealmRpc {
  readonly nodeId: string;
  /** No other node is alive: every call stays here. */
  alone(): boolean;
  /**
   * From every node that has one (this node included): its best registration for a CALL to
   * `procedure`, or with `match` its registration of exactly (procedure, match). `complete` is false
   * when some live node did not answer (the broker failed, or the node is stalled): what it has is
   * unknown. Rejects only on a bug in this node's own answer.
   */
  lookup(procedure: string, match?: MatchPolicy): Promise<ClusterLookup>;
  /** Hands `message` to the realm's dealer on `node`. */
  send(node: string, message: RpcMessage): void;
}

/**
 * What the dealers of a realm tell each other: a caller's CALL (or the next chunk of a progressive
 * one), its CANCEL and its departure go to the callee's node; the answers for the caller (RESULT,
 * ERROR) come back. Payloads travel as their JSON text.
 */
export type RpcMessage =
  | {
      k: 'call';
      /** The caller's session ID, authid and authrole. */
      c: number;
      ca: string;
      cr: string;
      q: number;
      u: string;
      o: Dict;
      a?: string;
      w?: string;
    }
  | { k: 'cancel'; c: number; q: number; o: Dict }
  | { k: 'gone'; c: number }
  | { k: 'out'; c: number; m: unknown[]; a?: string; w?: string };

/** A caller's CALL handed to another node, or waiting to learn which node has the procedure. */
interface Forwarded {
  /** The callee's node; undefined while the cluster is being asked. */
  node: string | undefined;
  readonly procedure: string;
  /** A progressive call with more input to come. */
  inputOpen: boolean;
  /** Chunks of a progressive call that came while the cluster was being asked. */
  readonly queue: { options: Dict; payload: Payload | undefined }[];
}

/** Round-robin cursors kept; past it they start over. */
const MAX_TURNS = 10_000;
/** CALL options that mean something to the callee's node; the rest stays with the caller's. */
const FORWARDED_OPTIONS = ['timeout', 'receive_progress', 'progress', 'disclose_me'];

/**
 * The dealer of a realm in a cluster: a CALL goes to the best registration of the whole cluster. A
 * caller's node asks every node for its best match (unless an exact `single` registration is here) and
 * hands the call to the winner, or among nodes sharing it to one chosen by its invocation policy
 * (`#pickNode`). On the callee's node a `RemoteCaller` stands for the caller, so the local dealer
 * applies timeouts, progress and cancel modes there exactly as for a local caller; its answers travel
 * back.
 */
export class ClusterDealer implements Dealer {
  readonly #local: MemoryDealer;
  readonly #ctx: DealerContext;
  readonly #rpc: RealmRpc;
  readonly #sessions: ReadonlyMap<number, Peer>;
  /** This node's callers' calls to other nodes, by caller and CALL request ID. */
  readonly #forwarded = new Map<Peer, Map<number, Forwarded>>();
  readonly #endedInputs = new Map<Peer, Set<number>>();
  /** Other nodes' callers with calls here, by node and session ID. */
  readonly #remote = new Map<string, Map<number, RemoteCaller>>();
  #callsForwarded = 0;
  /** Round-robin cursors over the cluster's callees, by registration (match and URI). */
  readonly #turns = new Map<string, number>();

  constructor(local: MemoryDealer, ctx: DealerContext, rpc: RealmRpc, sessions: ReadonlyMap<number, Peer>) {
    this.#local = local;
    this.#ctx = ctx;
    this.#rpc = rpc;
    this.#sessions = sessions;
  }

  call(peer: Peer, request: number, options: Dict, uri: string, payload: Payload | undefined): void {
    const forwarded = this.#forwarded.get(peer)?.get(request);
    if (forwarded) return this.#nextChunk(peer, request, forwarded, options, payload);
    if (this.#local.knows(peer, request) || isReserved(uri) || this.#rpc.alone()) {
      return this.#local.call(peer, request, options, uri, payload);
    }
    if (this.#endedInputs.get(peer)?.has(request)) return;
    // An exact single registration here is the only one in the cluster (see `register`); the local
    // dealer checks the call.
    const here = this.#local.best(uri);
    if (here?.match === 'exact' && here.invoke === 'single') {
      return this.#local.call(peer, request, options, uri, payload);
    }
    checkCall(this.#ctx, peer, uri); // refused at once, as on a single node

    const call: Forwarded = {
      node: undefined,
      procedure: uri,
      inputOpen: optBool(options, 'progress') === true,
      queue: [],
    };
    getOrCreate(this.#forwarded, peer, () => new Map()).set(request, call);
    this.#rpc
      .lookup(uri)
      .then((answer) => this.#route(peer, request, options, payload, call, answer))
      .catch((err: unknown) => {
        // A bug, not a refusal: reported as such, never disguised as a WAMP error to the caller.
        this.#end(peer, request, call);
        this.#ctx.logger.error({ err, session: peer.id, request, procedure: uri }, 'WAMP call not routed');
      });
  }

  /**
   * The cluster has answered where `call` goes. A lookup some node did not answer still routes to a
   * registration it found; finding none, it cannot tell that there is none: `wamp.error.unavailable`.
   */
  #route(
    peer: Peer,
    request: number,
    options: Dict,
    payload: Payload | undefined,
    call: Forwarded,
    { found, complete }: ClusterLookup,
  ): void {
    if (this.#forwarded.get(peer)?.get(request) !== call) return; // canceled, or the caller left
    const node = this.#pickNode(call.procedure, found);
    if (node !== undefined && node !== this.#rpc.nodeId) {
      call.node = node;
      this.#callsForwarded++;
      this.#send(node, peer, request, call.procedure, options, payload);
      for (const chunk of call.queue.splice(0)) {
        this.#send(node, peer, request, call.procedure, chunk.options, chunk.payload);
      }
      return;
    }
    this.#end(peer, request, call, false); // the local dealer has it from here
    try {
      if (node === undefined && !complete) {
        this.#ctx.logger.warn(
          { session: peer.id, request, procedure: call.procedure },
          'WAMP call refused: not every node answered where its procedure is registered',
        );
        throw new WampError(
          WampUri.UNAVAILABLE,
          `not every node of the cluster answered: cannot tell where "${call.procedure}" is registered`,
        );
      }
      if (node === undefined) {
        throw new WampError(
          WampUri.NO_SUCH_PROCEDURE,
          `no callee registered for procedure "${call.procedure}"`,
        );
      }
      this.#local.call(peer, request, options, call.procedure, payload);
      for (const chunk of call.queue)
        this.#local.call(peer, request, chunk.options, call.procedure, chunk.payload);
    } catch (err) {
      if (!(err instanceof WampError)) throw err;
      peer.send(refusal(request, err));
    }
  }

  #nextChunk(
    peer: Peer,
    request: number,
    call: Forwarded,
    options: Dict,
    payload: Payload | undefined,
  ): void {
    if (!call.inputOpen) throw new ProtocolViolation(`CALL request ID ${request} is already in flight`);
    const progress = optBool(options, 'progress') === true;
    if (!progress) call.inputOpen = false;
    const chunkOptions = progress ? { progress } : {};
    if (call.node === undefined) call.queue.push({ options: chunkOptions, payload });
    else this.#send(call.node, peer, request, call.procedure, chunkOptions, payload);
  }

  #send(node: string, peer: Peer, request: number, uri: string, options: Dict, payload: Payload | undefined) {
    const o: Dict = {};
    for (const key of FORWARDED_OPTIONS) {
      const value = options[key];
      if (typeof value === 'number' || typeof value === 'boolean') o[key] = value;
    }
    const message: RpcMessage = {
      k: 'call',
      c: peer.id,
      ca: peer.authid,
      cr: peer.authrole,
      q: request,
      u: uri,
      o,
    };
    this.#rpc.send(node, withPayload(message, payload));
  }

  /** The call is over for this node: later chunks of its input are dropped (unless not `remember`). */
  #end(peer: Peer, request: number, call: Forwarded, remember = true): void {
    const calls = this.#forwarded.get(peer);
    calls?.delete(request);
    if (calls?.size === 0) this.#forwarded.delete(peer);
    if (remember && call.inputOpen) rememberEnded(this.#endedInputs, peer, request);
  }

  cancel(peer: Peer, request: number, options: Dict): void {
    const call = this.#forwarded.get(peer)?.get(request);
    if (call === undefined) return this.#local.cancel(peer, request, options);
    if (call.node !== undefined) {
      const mode = optString(options, 'mode');
      return this.#rpc.send(call.node, { k: 'cancel', c: peer.id, q: request, o: mode ? { mode } : {} });
    }
    // Not sent anywhere yet: nothing to interrupt.
    this.#end(peer, request, call);
    peer.send(out.refusal(MessageType.CALL, request, WampUri.CANCELED, 'call canceled'));
  }

  /** A message from the realm's dealer on `node`. */
  receive(node: string, m: RpcMessage): void {
    switch (m.k) {
      case 'call': {
        const callers = getOrCreate(this.#remote, node, () => new Map<number, RemoteCaller>());
        const caller = getOrCreate(
          callers,
          m.c,
          () =>
            new RemoteCaller(m.c, m.ca, m.cr, (message) => {
              const answer: RpcMessage = { k: 'out', c: m.c, m: [...message.items] };
              try {
                this.#rpc.send(node, withPayload(answer, message.payload));
              } catch (err) {
                // Unreachable while payloads are checked at ingress; one answer lost, not the bus handler.
                const type = message.items[0];
                this.#ctx.logger.error({ err, node, session: m.c, type }, 'WAMP answer not sent to its node');
              }
            }),
        );
        const payload = m.a === undefined ? undefined : Payload.raw(jsonSerializer, m.a, m.w);
        try {
          this.#local.call(caller, m.q, m.o, m.u, payload);
        } catch (err) {
          if (err instanceof WampError) return caller.send(refusal(m.q, err));
          // A bug: reported with its context, and kept out of the bus's message handler.
          this.#ctx.logger.error(
            { err, node, session: m.c, request: m.q, procedure: m.u },
            'WAMP call from another node failed',
          );
        }
        return;
      }
      case 'cancel': {
        const caller = this.#remote.get(node)?.get(m.c);
        if (caller) this.#local.cancel(caller, m.q, m.o);
        return;
      }
      case 'gone': {
        const callers = this.#remote.get(node);
        const caller = callers?.get(m.c);
        if (!caller) return;
        callers!.delete(m.c);
        this.#local.removeSession(caller);
        return;
      }
      case 'out':
        return this.#answer(m);
    }
  }

  /** An answer for a caller here: RESULT (progressive or final) or ERROR. */
  #answer(m: Extract<RpcMessage, { k: 'out' }>): void {
    const peer = this.#sessions.get(m.c);
    const [type] = m.m;
    const request = type === MessageType.RESULT ? m.m[1] : m.m[2];
    const call = peer && typeof request === 'number' ? this.#forwarded.get(peer)?.get(request) : undefined;
    if (!peer || !call) return; // the caller left, or the call is over
    const progress = type === MessageType.RESULT && isDict(m.m[2]) && m.m[2].progress === true;
    if (!progress) this.#end(peer, request as number, call);
    const payload = m.a === undefined ? undefined : Payload.raw(jsonSerializer, m.a, m.w);
    peer.send(new Outgoing(m.m, payload));
  }

  /**
   * `node` is gone: calls this node's callers made to it end with `canceled`, as when a callee
   * leaves, and the calls its callers made here end as when a caller leaves.
   */
  nodeDown(node: string): void {
    for (const [peer, calls] of [...this.#forwarded]) {
      for (const [request, call] of [...calls]) {
        if (call.node !== node) continue;
        this.#end(peer, request, call);
        peer.send(out.refusal(MessageType.CALL, request, WampUri.CANCELED, CALLEE_LEFT));
      }
    }
    const callers = this.#remote.get(node);
    this.#remote.delete(node);
    for (const caller of callers?.values() ?? []) this.#local.removeSession(caller);
  }

  removeSession(peer: Peer): { registration: Registration; deleted: boolean }[] {
    const calls = this.#forwarded.get(peer);
    this.#forwarded.delete(peer);
    this.#endedInputs.delete(peer);
    const nodes = new Set([...(calls?.values() ?? [])].map((c) => c.node));
    for (const node of nodes) if (node !== undefined) this.#rpc.send(node, { k: 'gone', c: peer.id });
    return this.#local.removeSession(peer);
  }

  /**
   * A registration new to this node is checked against the other nodes' first: a `single` one, or one
   * under another invocation policy, is refused as on one node. Two nodes registering the same
   * procedure at the same moment may both succeed.
   */
  register(peer: Peer, request: number, options: Dict, procedure: string): void {
    if (this.#rpc.alone()) return this.#local.register(peer, request, options, procedure);
    const { match, invoke } = checkRegister(this.#ctx, peer, options, procedure);
    if (this.#local.lookup(procedure, match)) return this.#local.register(peer, request, options, procedure);
    const decide = (found: NodeRegistration[]) => {
      if (this.#sessions.get(peer.id) !== peer) return; // left meanwhile
      const other = found.find((r) => r.node !== this.#rpc.nodeId);
      try {
        if (other && (other.invoke === 'single' || invoke === 'single')) {
          throw new WampError(
            WampUri.PROCEDURE_ALREADY_EXISTS,
            `procedure "${procedure}" is already registered`,
          );
        }
        if (other && other.invoke !== invoke) {
          throw new WampError(
            WampUri.PROCEDURE_EXISTS_INVOKE,
            `procedure "${procedure}" is registered with invoke "${other.invoke}"`,
          );
        }
        this.#local.register(peer, request, options, procedure);
      } catch (err) {
        if (!(err instanceof WampError)) throw err;
        peer.send(out.refusal(MessageType.REGISTER, request, err.uri, err.message));
      }
    };
    this.#rpc
      .lookup(procedure, match)
      .then(({ found, complete }) => {
        if (complete) return decide(found);
        // Registering unchecked could make a second `single` registration in the cluster.
        this.#ctx.logger.warn(
          { session: peer.id, request, procedure },
          'WAMP registration refused: not every node answered whether it has one',
        );
        const message = `not every node of the cluster answered: cannot check "${procedure}"`;
        if (this.#sessions.get(peer.id) === peer)
          peer.send(out.refusal(MessageType.REGISTER, request, WampUri.UNAVAILABLE, message));
      })
      .catch((err: unknown) => {
        this.#ctx.logger.error({ err, session: peer.id, request, procedure }, 'WAMP registration failed');
      });
  }

  /**
   * The node a CALL to `procedure` goes to: the one with the cluster's best registration; when several
   * nodes share it, by its invocation policy over the callees of all of them (`roundrobin` turns over
   * the cluster's callees, `random` draws among them, `first` and `last` go to the node of the oldest
   * and the newest callee); that node's dealer picks the callee.
   */
  #pickNode(procedure: string, found: NodeRegistration[]): string | undefined {
    const registrations = new UriMap<NodeRegistration[]>();
    for (const r of found) {
      const same = registrations.get(r.uri, r.match);
      if (same) same.push(r);
      else registrations.set(r.uri, r.match, [r]);
    }
    const shared = registrations.best(procedure)?.sort((a, b) => (a.node < b.node ? -1 : 1));
    if (shared === undefined) return undefined;
    const [first] = shared as [NodeRegistration];
    if (shared.length === 1) return first.node;
    const slots = shared.flatMap((r) => Array<string>(r.callees).fill(r.node));
    switch (first.invoke) {
      case 'roundrobin': {
        const key = `${first.match} ${first.uri}`;
        const turn = this.#turns.get(key) ?? 0;
        if (this.#turns.size >= MAX_TURNS) this.#turns.clear();
        this.#turns.set(key, (turn + 1) % slots.length);
        return slots[turn % slots.length];
      }
      case 'first':
        return shared.reduce((a, b) => (b.oldest < a.oldest ? b : a)).node;
      case 'last':
        return shared.reduce((a, b) => (b.newest > a.newest ? b : a)).node;
      default:
        return slots[Math.floor(Math.random() * slots.length)];
    }
  }

  unregister(peer: Peer, request: number, registration: number): void {
    this.#local.unregister(peer, request, registration);
  }

  yield(peer: Peer, request: number, options: Dict, payload: Payload | undefined): void {
    this.#local.yield(peer, request, options, payload);
  }

  error(peer: Peer, requestType: number, request: number, uri: string, payload: Payload | undefined): void {
    this.#local.error(peer, requestType, request, uri, payload);
  }

  byId(id: number): Registration | undefined {
    return this.#local.byId(id);
  }

  lookup(uri: string, match: MatchPolicy): Registration | undefined {
    return this.#local.lookup(uri, match);
  }

  best(uri: string): Registration | undefined {
    return this.#local.best(uri);
  }

  list(match: MatchPolicy): Registration[] {
    return this.#local.list(match);
  }

  stats(): { calls: number; registrations: number } {
    const { calls, registrations } = this.#local.stats();
    return { calls: calls + this.#callsForwarded, registrations };
  }
}

/** `m` with `payload` as its JSON text; throws `invalid_argument` when it has no JSON form. */
function withPayload<M extends { a?: string; w?: string }>(m: M, payload: Payload | undefined): M {
  if (payload === undefined) return m;
  let parts: ReturnType<Payload['parts']>;
  try {
    parts = payload.parts(jsonSerializer);
  } catch (err) {
    const reason = `payload cannot cross the cluster as JSON (${(err as Error).message})`;
    throw new WampError(WampUri.INVALID_ARGUMENT, reason);
  }
  const { args, kwargs } = parts;
  m.a = args as string;
  if (kwargs !== undefined) m.w = kwargs as string;
  return m;
}

/** ERROR for CALL `request`: the refusal the dealer decided on. */
function refusal(request: number, err: WampError): Outgoing {
  return out.refusal(MessageType.CALL, request, err.uri, err.message);
}

/** A caller on another node, as the dealer of the callee's node sees it: what it is sent goes back. */
class RemoteCaller implements Peer {
  readonly serializer = jsonSerializer;

  constructor(
    readonly id: number,
    readonly authid: string,
    readonly authrole: string,
    readonly send: (message: Outgoing) => void,
  ) {}

  /** Only a callee's features are ever asked. */
  has(): boolean {
    return false;
  }

  details(): Dict {
    return { session: this.id, authid: this.authid, authrole: this.authrole };
  }

  /** Its session lives on its own node. */
  kill(): void {}
}
