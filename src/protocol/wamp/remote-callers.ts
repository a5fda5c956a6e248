import type { Logger } from 'pino';
import type { Outgoing } from './codec.js';
import { callRefusal, type MemoryDealer } from './dealer.js';
import {
  payloadOf,
  type RpcAnswer,
  type RpcCall,
  type RpcCancel,
  type RpcGone,
  type RpcMessage,
  withPayload,
} from './dealer-messages.js';
import { WampError } from './errors.js';
import { getOrCreate } from './maps.js';
import type { Dict } from './messages.js';
import type { ClientRole, Peer } from './peer.js';
import { PPT_FEATURE } from './ppt.js';
import { jsonSerializer } from './serializers/json.js';

/**
 * The callee side of calls across nodes: the calls that callers on other nodes handed to this one.
 * Each such caller is a `RemoteCaller` to the local dealer, which applies timeouts, progress and
 * cancel modes exactly as for a caller here; what it is sent goes back to the caller's node.
 */
export class RemoteCallers {
  readonly #local: MemoryDealer;
  readonly #send: (node: string, message: RpcMessage) => void;
  readonly #logger: Logger;
  /** Other nodes' callers with calls here, by node and session ID. */
  readonly #callers = new Map<string, Map<number, RemoteCaller>>();

  constructor(local: MemoryDealer, send: (node: string, message: RpcMessage) => void, logger: Logger) {
    this.#local = local;
    this.#send = send;
    this.#logger = logger;
  }

  /** A caller's message from the realm's dealer on `node`. */
  receive(node: string, m: RpcCall | RpcCancel | RpcGone): void {
    switch (m.k) {
      case 'call':
        return this.#call(node, m);
      case 'cancel': {
        const caller = this.#callers.get(node)?.get(m.c);
        if (caller) this.#local.cancel(caller, m.q, m.o);
        return;
      }
      case 'gone': {
        const callers = this.#callers.get(node);
        const caller = callers?.get(m.c);
        if (!caller) return;
        callers!.delete(m.c);
        this.#local.removeSession(caller);
        return;
      }
    }
  }

  #call(node: string, m: RpcCall): void {
    const callers = getOrCreate(this.#callers, node, () => new Map<number, RemoteCaller>());
    const caller = getOrCreate(
      callers,
      m.c,
      () => new RemoteCaller(m.c, m.ca, m.cr, m.pp === true, (message) => this.#answer(node, m.c, message)),
    );
    try {
      this.#local.call(caller, m.q, m.o, m.u, payloadOf(m));
    } catch (err) {
      if (err instanceof WampError) return caller.send(callRefusal(m.q, err));
      // A bug: reported with its context, and kept out of the bus's message handler.
      this.#logger.error(
        { err, node, session: m.c, request: m.q, procedure: m.u },
        'WAMP call from another node failed',
      );
    }
  }

  /** What the local dealer sends caller `session` of `node`, on its way back there. */
  #answer(node: string, session: number, message: Outgoing): void {
    const answer: RpcAnswer = { k: 'out', c: session, m: [...message.items] };
    try {
      this.#send(node, withPayload(answer, message.payload));
    } catch (err) {
      // Unreachable while payloads are checked at ingress; one answer lost, not the bus handler.
      const type = message.items[0];
      this.#logger.error({ err, node, session, type }, 'WAMP answer not sent to its node');
    }
  }

  /** `node` is gone: the calls its callers made here end as when a caller leaves. */
  nodeDown(node: string): void {
    const callers = this.#callers.get(node);
    this.#callers.delete(node);
    for (const caller of callers?.values() ?? []) this.#local.removeSession(caller);
  }
}

/** A caller on another node, as the dealer of the callee's node sees it: what it is sent goes back. */
class RemoteCaller implements Peer {
  readonly serializer = jsonSerializer;

  constructor(
    readonly id: number,
    readonly authid: string,
    readonly authrole: string,
    /** It announced payload passthru mode as a caller. */
    readonly passthru: boolean,
    readonly send: (message: Outgoing) => void,
  ) {}

  /** Of a caller's features, only payload passthru mode is ever asked. */
  has(role: ClientRole, feature: string): boolean {
    return role === 'caller' && feature === PPT_FEATURE && this.passthru;
  }

  details(): Dict {
    return { session: this.id, authid: this.authid, authrole: this.authrole };
  }

  /** Its session lives on its own node. */
  kill(): void {}
}
