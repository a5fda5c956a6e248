import { Outgoing } from './codec.js';
import {
  CALLEE_LEFT,
  callRefusal,
  checkCall,
  checkRegister,
  type Dealer,
  type DealerContext,
  type MemoryDealer,
  type Registration,
  type RegistrationView,
  rememberEnded,
} from './dealer.js';
import {
  type NodeRegistration,
  payloadOf,
  type RpcAnswer,
  type RpcCall,
  type RpcMessage,
  withPayload,
} from './dealer-messages.js';
import { ProtocolViolation, WampError, WampUri } from './errors.js';
import { getOrCreate } from './maps.js';
import { type CalleeError, type Dict, MessageType, out } from './messages.js';
import { NodeTurns, pickNode } from './node-pick.js';
import { optBool, optString } from './options.js';
import { isDict, type Payload } from './payload.js';
import type { Peer } from './peer.js';
import { PPT_KEYS, takesPassthru } from './ppt.js';
import { RemoteCallers } from './remote-callers.js';
import { isReserved, type MatchPolicy } from './uri.js';

/** What the cluster answered to a lookup (`RealmRpc.lookup`). */
export interface ClusterLookup {
  readonly found: NodeRegistration[];
  readonly complete: boolean;
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

/** CALL options that mean something to the callee's node; the rest stays with the caller's. */
const FORWARDED_OPTIONS = ['timeout', 'receive_progress', 'progress', 'disclose_me'];

/**
 * The dealer of a realm in a cluster: a CALL goes to the best registration of the whole cluster. A
 * caller's node asks every node for its best match (unless an exact `single` registration is here) and
 * hands the call to the winner, or among nodes sharing it to one chosen by its invocation policy
 * (`pickNode`). This class is the caller's side; on the callee's node `RemoteCallers` hands the call
 * to the local dealer, which applies timeouts, progress and cancel modes there exactly as for a local
 * caller, and its answers travel back.
 */
export class ClusterDealer implements Dealer {
  readonly #local: MemoryDealer;
  readonly #ctx: DealerContext;
  readonly #rpc: RealmRpc;
  readonly #sessions: ReadonlyMap<number, Peer>;
  /** This node's callers' calls to other nodes, by caller and CALL request ID. */
  readonly #forwarded = new Map<Peer, Map<number, Forwarded>>();
  readonly #endedInputs = new Map<Peer, Set<number>>();
  /** The calls other nodes' callers made here. */
  readonly #remote: RemoteCallers;
  #callsForwarded = 0;
  readonly #turns = new NodeTurns();
  readonly registrations: RegistrationView;

  constructor(local: MemoryDealer, ctx: DealerContext, rpc: RealmRpc, sessions: ReadonlyMap<number, Peer>) {
    this.#local = local;
    this.#ctx = ctx;
    this.#rpc = rpc;
    this.#sessions = sessions;
    this.#remote = new RemoteCallers(local, (node, message) => rpc.send(node, message), ctx.logger);
    this.registrations = local.registrations;
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
    const here = this.registrations.best(uri);
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
    const node = pickNode(call.procedure, found, this.#turns);
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
      peer.send(callRefusal(request, err));
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
    for (const key of PPT_KEYS) if (typeof options[key] === 'string') o[key] = options[key];
    const message: RpcCall = {
      k: 'call',
      c: peer.id,
      ca: peer.authid,
      cr: peer.authrole,
      q: request,
      u: uri,
      o,
    };
    if (takesPassthru(peer, 'caller')) message.pp = true;
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
    if (m.k === 'out') this.#answer(m);
    else this.#remote.receive(node, m);
  }

  /** An answer for a caller here: RESULT (progressive or final) or ERROR. */
  #answer(m: RpcAnswer): void {
    const peer = this.#sessions.get(m.c);
    const [type] = m.m;
    const request = type === MessageType.RESULT ? m.m[1] : m.m[2];
    const call = peer && typeof request === 'number' ? this.#forwarded.get(peer)?.get(request) : undefined;
    if (!peer || !call) return; // the caller left, or the call is over
    const progress = type === MessageType.RESULT && isDict(m.m[2]) && m.m[2].progress === true;
    if (!progress) this.#end(peer, request as number, call);
    peer.send(new Outgoing(m.m, payloadOf(m)));
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
    this.#remote.nodeDown(node);
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
    if (this.registrations.lookup(procedure, match))
      return this.#local.register(peer, request, options, procedure);
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

  unregister(peer: Peer, request: number, registration: number): void {
    this.#local.unregister(peer, request, registration);
  }

  yield(peer: Peer, request: number, options: Dict, payload: Payload | undefined): void {
    this.#local.yield(peer, request, options, payload);
  }

  error(peer: Peer, m: CalleeError): void {
    this.#local.error(peer, m);
  }

  stats(): { calls: number; registrations: number } {
    const { calls, registrations } = this.#local.stats();
    return { calls: calls + this.#callsForwarded, registrations };
  }
}
