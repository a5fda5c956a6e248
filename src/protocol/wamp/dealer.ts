import type { Logger } from 'pino';
import type { LimitName } from '../../core/limit-refusals.js';
import type { Authorizer, Decision } from './authorizer.js';
import type { Outgoing } from './codec.js';
import { ProtocolViolation, WampError, WampUri } from './errors.js';
import { IdSequence } from './ids.js';
import { getOrCreate } from './maps.js';
import { type CalleeError, type Dict, MessageType, out } from './messages.js';
import { callTimeoutMs, optBool, optMatch, optString } from './options.js';
import { Payload } from './payload.js';
import type { Peer } from './peer.js';
import { type PptDetails, pptOptions, takesPassthru } from './ppt.js';
import { PRIVILEGED_PROCEDURES } from './privileged.js';
import {
  type Callee,
  INVOKE_POLICIES,
  type InvokePolicy,
  pickCallee,
  type Registration,
  RegistrationTable,
  type RegistrationView,
} from './registrations.js';
import { isReserved, isValidUri, type MatchPolicy, type UriCheck } from './uri.js';

export type { Registration, RegistrationView } from './registrations.js';

/** A router procedure (`wamp.*`); it may answer later, and may fail with a `WampError`. */
export type Procedure = (
  caller: Peer,
  args: unknown[],
  kwargs: Dict,
) => Payload | undefined | Promise<Payload | undefined>;

export interface DealerEvents {
  registered(peer: Peer, registration: Registration, created: boolean): void;
  unregistered(peer: Peer, registration: Registration, deleted: boolean): void;
}

export interface DealerContext {
  readonly authorizer: Authorizer;
  /** Where failures no client can be told of are reported (a bug in a router procedure). */
  readonly logger: Logger;
  readonly uriCheck: UriCheck;
  readonly events: DealerEvents;
  /** The router's own `wamp.*` procedures. */
  readonly procedure: (uri: string) => Procedure | undefined;
  /** How long a `kill` CANCEL waits for the callee's answer before the caller gets `canceled`. */
  readonly killTimeoutMs: number;
  /** Registrations per session; null or absent is unlimited. */
  readonly maxRegistrationsPerSession?: number | null;
  /** Told of each refusal by a limit, for the metrics. */
  readonly refused?: (limit: LimitName) => void;
}

/**
 * Remote procedure calls in one realm. Sessions and the meta API use only this interface: `MemoryDealer`
 * serves one node, `ClusterDealer` routes calls to callees on other nodes through it.
 */
export interface Dealer {
  /** REGISTER → REGISTERED, or throws `WampError`. */
  register(peer: Peer, request: number, options: Dict, procedure: string): void;
  /** UNREGISTER → UNREGISTERED, or throws `WampError` (`no_such_registration`). */
  unregister(peer: Peer, request: number, registration: number): void;
  /** CALL → INVOCATION to one callee (or a router procedure's RESULT), or throws `WampError`. */
  call(peer: Peer, request: number, options: Dict, procedure: string, payload: Payload | undefined): void;
  cancel(peer: Peer, request: number, options: Dict): void;
  yield(peer: Peer, request: number, options: Dict, payload: Payload | undefined): void;
  /** ERROR from a callee for one of its INVOCATIONs. */
  error(peer: Peer, m: CalleeError): void;
  /** Ends the session's calls (both sides) and drops its registrations; the caller reports them. */
  removeSession(peer: Peer): { registration: Registration; deleted: boolean }[];
  /** This node's registrations, read-only: the meta API and the cluster's lookups read them. */
  readonly registrations: RegistrationView;
  /** CALLs that passed the checks since start (to callees and to router procedures), and registrations now. */
  stats(): { calls: number; registrations: number };
}

/** A CALL between INVOCATION and its final answer. */
interface Call {
  readonly caller: Peer;
  readonly request: number;
  readonly callee: Peer;
  readonly invocation: number;
  readonly registration: number;
  /** The caller has more input to send (WAMP spec, Advanced Profile, Progressive Call Invocations). */
  inputOpen: boolean;
  /** The caller asked for progressive results. */
  readonly receiveProgress: boolean;
  /**
   * Dealer-side timeout in ms (0: none), restarted by each progressive result (WAMP spec, Advanced Profile,
   * Call Timeouts).
   */
  readonly timeoutMs: number;
  timer: NodeJS.Timeout | undefined;
  /** A `kill` CANCEL is waiting for the callee. */
  killing: boolean;
  /** The passthru options of the CALL, for every chunk of a progressive one. */
  readonly ppt: PptDetails | undefined;
}

export const CALLEE_LEFT = 'callee disconnected from in-flight request';
/** Ended progressive calls remembered per caller, so that their late chunks start nothing. */
const ENDED_INPUTS_KEPT = 64;

/** Remembers that progressive call `request` of `caller` ended with its input open (the last few kept). */
export function rememberEnded(ended: Map<Peer, Set<number>>, caller: Peer, request: number): void {
  const requests = getOrCreate(ended, caller, () => new Set<number>());
  requests.add(request);
  for (const old of requests) {
    if (requests.size <= ENDED_INPUTS_KEPT) break;
    requests.delete(old);
  }
}

/** ERROR for CALL `request`: the refusal the dealer decided on. */
export function callRefusal(request: number, err: WampError): Outgoing {
  return out.refusal(MessageType.CALL, request, err.uri, err.message);
}

/** The checks of a new CALL: a valid procedure URI the caller's role may call; throws `WampError`. */
export function checkCall(ctx: DealerContext, peer: Peer, uri: string): Decision {
  if (!isValidUri(uri, 'exact', ctx.uriCheck)) {
    throw new WampError(WampUri.INVALID_URI, `invalid procedure URI "${uri}"`);
  }
  const decision = ctx.authorizer.authorize(peer.authrole, uri, 'call');
  if (!decision.allow) throw new WampError(WampUri.NOT_AUTHORIZED, `not authorized to call "${uri}"`);
  if (PRIVILEGED_PROCEDURES.has(uri) && !decision.namesMeta) {
    const why = 'needs a permission rule that names "wamp." explicitly';
    throw new WampError(WampUri.NOT_AUTHORIZED, `not authorized to call "${uri}": it ${why}`);
  }
  return decision;
}

/** The checks of a REGISTER: options, a valid URI the caller's role may register; throws `WampError`. */
export function checkRegister(
  ctx: DealerContext,
  peer: Peer,
  options: Dict,
  uri: string,
): { match: MatchPolicy; invoke: InvokePolicy } {
  const match = optMatch(options);
  const invoke = optString(options, 'invoke') ?? 'single';
  if (!INVOKE_POLICIES.includes(invoke)) {
    const policies = INVOKE_POLICIES.join(', ');
    throw new WampError(WampUri.INVALID_ARGUMENT, `option "invoke" must be one of ${policies}`);
  }
  if (!isValidUri(uri, match, ctx.uriCheck)) {
    throw new WampError(WampUri.INVALID_URI, `invalid procedure URI "${uri}" for match "${match}"`);
  }
  if (isReserved(uri)) {
    throw new WampError(WampUri.INVALID_URI, `procedure "${uri}" is reserved for the router`);
  }
  if (!ctx.authorizer.authorize(peer.authrole, uri, 'register').allow) {
    throw new WampError(WampUri.NOT_AUTHORIZED, `not authorized to register "${uri}"`);
  }
  return { match, invoke: invoke as InvokePolicy };
}

export class MemoryDealer implements Dealer {
  readonly #ctx: DealerContext;
  readonly #registrations = new RegistrationTable();
  readonly registrations: RegistrationView = this.#registrations;
  /** Calls in flight by caller and CALL request ID. */
  readonly #calls = new Map<Peer, Map<number, Call>>();
  /** Calls in flight by callee and INVOCATION request ID. */
  readonly #invocations = new Map<Peer, Map<number, Call>>();
  readonly #sequences = new Map<Peer, IdSequence>();
  /** Per caller, the last progressive calls that ended while their input was open: later chunks are dropped. */
  readonly #endedInputs = new Map<Peer, Set<number>>();
  #callsRouted = 0;

  constructor(ctx: DealerContext) {
    this.#ctx = ctx;
  }

  register(peer: Peer, request: number, options: Dict, uri: string): void {
    const { match, invoke } = checkRegister(this.#ctx, peer, options, uri);
    const max = this.#ctx.maxRegistrationsPerSession;
    if (max != null && this.#registrations.heldBy(peer) >= max) {
      this.#ctx.refused?.('wamp_registrations_per_session');
      throw new WampError(WampUri.LIMIT_EXCEEDED, `a session may hold at most ${max} registrations`);
    }
    const callee: Callee = {
      peer,
      discloseCaller: optBool(options, 'disclose_caller') ?? false,
      forwardTimeout: optBool(options, 'forward_timeout') ?? false,
      since: performance.timeOrigin + performance.now(),
    };
    const { registration, created } = this.#registrations.add(uri, match, invoke, callee);
    peer.send(out.registered(request, registration.id));
    this.#ctx.events.registered(peer, registration, created);
  }

  unregister(peer: Peer, request: number, id: number): void {
    const { registration, deleted } = this.#registrations.remove(peer, id);
    peer.send(out.unregistered(request));
    this.#ctx.events.unregistered(peer, registration, deleted);
  }

  call(peer: Peer, request: number, options: Dict, uri: string, payload: Payload | undefined): void {
    const progress = optBool(options, 'progress') === true;
    const open = this.#calls.get(peer)?.get(request);
    if (open) {
      if (!open.inputOpen) throw new ProtocolViolation(`CALL request ID ${request} is already in flight`);
      // The next chunk of a progressive call: to the same callee, under the same INVOCATION; only
      // `progress` of its options counts (WAMP spec, Advanced Profile, Progressive Call Invocations).
      if (!progress) open.inputOpen = false;
      const chunk = { ...(progress ? { progress } : {}), ...open.ppt };
      open.callee.send(out.invocation(open.invocation, open.registration, chunk, payload));
      return;
    }
    if (this.#endedInputs.get(peer)?.has(request)) return; // a chunk of a call already over: dropped
    // A caller need not announce progressive_call_invocations: wampy, which sends them, does not.
    const decision = checkCall(this.#ctx, peer, uri);
    const ppt = pptOptions(peer, 'caller', options);
    this.#callsRouted++;
    const timeoutMs = callTimeoutMs(options);
    const receiveProgress = optBool(options, 'receive_progress') ?? false;
    const disclose = (optBool(options, 'disclose_me') ?? false) || decision.disclose;

    const internal = isReserved(uri) ? this.#ctx.procedure(uri) : undefined;
    if (internal !== undefined && progress) {
      throw new WampError(WampUri.FEATURE_NOT_SUPPORTED, `"${uri}" takes no progressive call invocations`);
    }
    if (internal !== undefined && ppt) {
      throw new WampError(WampUri.FEATURE_NOT_SUPPORTED, `"${uri}" reads its arguments: no payload passthru`);
    }
    if (internal !== undefined) {
      const { args, kwargs } = (payload ?? Payload.of()).values();
      const answer = internal(peer, args, kwargs);
      if (!(answer instanceof Promise)) return peer.send(out.result(request, {}, answer));
      answer.then(
        (result) => peer.send(out.result(request, {}, result)),
        (err: unknown) => {
          if (err instanceof WampError) return peer.send(callRefusal(request, err));
          // A bug in the procedure: reported with its context, never passed off as a WAMP error.
          this.#ctx.logger.error(
            { err, session: peer.id, request, procedure: uri },
            'WAMP meta procedure failed',
          );
        },
      );
      return;
    }
    const registration = this.#registrations.best(uri);
    if (registration === undefined) {
      throw new WampError(WampUri.NO_SUCH_PROCEDURE, `no callee registered for procedure "${uri}"`);
    }
    const callee = pickCallee(registration);
    if (progress && !callee.peer.has('callee', 'progressive_call_invocations')) {
      throw new WampError(
        WampUri.FEATURE_NOT_SUPPORTED,
        `the callee of "${uri}" does not take progressive call invocations`,
      );
    }
    if (ppt && !takesPassthru(callee.peer, 'callee')) {
      throw new WampError(
        WampUri.FEATURE_NOT_SUPPORTED,
        `the callee of "${uri}" did not announce payload_passthru_mode`,
      );
    }
    const invocation = getOrCreate(this.#sequences, callee.peer, () => new IdSequence()).next();

    const details: Dict = {};
    if (progress) details.progress = true;
    if (registration.match !== 'exact') details.procedure = uri;
    // Forwarded when the callee announced progressive results, even without call_canceling: autobahn-js
    // callees announce only the former (WAMP spec, Advanced Profile, Progressive Call Results).
    if (receiveProgress && callee.peer.has('callee', 'progressive_call_results'))
      details.receive_progress = true;
    if (disclose || callee.discloseCaller) {
      Object.assign(details, { caller: peer.id, caller_authid: peer.authid, caller_authrole: peer.authrole });
    }
    if (timeoutMs > 0 && callee.forwardTimeout) details.timeout = timeoutMs;
    if (ppt) Object.assign(details, ppt);
    const call: Call = {
      caller: peer,
      request,
      callee: callee.peer,
      invocation,
      registration: registration.id,
      inputOpen: progress,
      receiveProgress,
      timeoutMs: callee.forwardTimeout ? 0 : timeoutMs,
      timer: undefined,
      killing: false,
      ppt,
    };
    getOrCreate(this.#calls, peer, () => new Map()).set(request, call);
    getOrCreate(this.#invocations, callee.peer, () => new Map()).set(invocation, call);
    callee.peer.send(out.invocation(invocation, registration.id, details, payload));
    this.#armTimeout(call);
  }

  /** Whether `request` of `peer` is a call in flight here, or a progressive call that ended here. */
  knows(peer: Peer, request: number): boolean {
    return this.#calls.get(peer)?.has(request) === true || this.#endedInputs.get(peer)?.has(request) === true;
  }

  /**
   * Dealer-side timeout: ERROR `timeout` to the caller, INTERRUPT killnowait to the callee (WAMP spec,
   * Advanced Profile, Call Timeouts).
   */
  #armTimeout(call: Call): void {
    if (call.timeoutMs === 0) return;
    clearTimeout(call.timer);
    call.timer = setTimeout(() => {
      this.#finish(call);
      call.caller.send(out.refusal(MessageType.CALL, call.request, WampUri.TIMEOUT, 'call timed out'));
      this.#interrupt(call, 'killnowait');
    }, call.timeoutMs);
  }

  /**
   * INTERRUPT, only to callees that announced call_canceling (WAMP spec, Advanced Profile, Call
   * Canceling; docs/wamp.md, What the router implements).
   */
  #interrupt(call: Call, mode: string): void {
    if (call.callee.has('callee', 'call_canceling')) call.callee.send(out.interrupt(call.invocation, mode));
  }

  /** The call is over: later answers from the callee are dropped as unknown. */
  #finish(call: Call): void {
    clearTimeout(call.timer);
    if (call.inputOpen) rememberEnded(this.#endedInputs, call.caller, call.request);
    this.#calls.get(call.caller)?.delete(call.request);
    this.#invocations.get(call.callee)?.delete(call.invocation);
  }

  /**
   * CANCEL (WAMP spec, Advanced Profile, Call Canceling): `skip` answers `canceled` at once; `killnowait`
   * (also the default) adds an INTERRUPT; `kill` sends INTERRUPT and forwards the callee's answer, or
   * `canceled` after `killTimeoutMs`. A callee without call_canceling always gets `skip`. Unknown or
   * repeated: ignored.
   */
  cancel(peer: Peer, request: number, options: Dict): void {
    const call = this.#calls.get(peer)?.get(request);
    if (call === undefined || call.killing) return;
    const requested = optString(options, 'mode');
    let mode = requested === 'skip' || requested === 'kill' ? requested : 'killnowait';
    if (!call.callee.has('callee', 'call_canceling')) mode = 'skip';
    if (mode === 'kill') {
      call.killing = true;
      this.#interrupt(call, 'kill');
      clearTimeout(call.timer);
      call.timer = setTimeout(() => {
        this.#finish(call);
        const message = 'callee did not answer the cancel';
        call.caller.send(out.refusal(MessageType.CALL, request, WampUri.CANCELED, message));
      }, this.#ctx.killTimeoutMs);
      return;
    }
    this.#finish(call);
    peer.send(out.refusal(MessageType.CALL, request, WampUri.CANCELED, 'call canceled'));
    if (mode === 'killnowait') this.#interrupt(call, 'killnowait');
  }

  yield(peer: Peer, request: number, options: Dict, payload: Payload | undefined): void {
    // A YIELD for an unknown invocation is late (after a cancel or timeout): dropped, as the callee's
    // late answer is (WAMP spec, Advanced Profile, Call Canceling).
    const call = this.#invocations.get(peer)?.get(request);
    if (call === undefined) return;
    const ppt = this.#answerPassthru(call, options);
    if (ppt === null) return;
    if (options.progress === true) {
      if (!call.receiveProgress) return;
      call.caller.send(out.result(call.request, { progress: true, ...ppt }, payload));
      if (!call.killing) this.#armTimeout(call);
      return;
    }
    this.#finish(call);
    call.caller.send(out.result(call.request, { ...ppt }, payload));
  }

  error(peer: Peer, { requestType, request, details, error: uri, payload }: CalleeError): void {
    if (requestType !== MessageType.INVOCATION) {
      throw new ProtocolViolation(`ERROR for message type ${requestType} from a client`);
    }
    const call = this.#invocations.get(peer)?.get(request);
    if (call === undefined) return;
    const ppt = this.#answerPassthru(call, details);
    if (ppt === null) return;
    this.#finish(call);
    call.caller.send(out.error(MessageType.CALL, call.request, uri, payload, { ...ppt }));
  }

  /**
   * The passthru options of a callee's YIELD or ERROR (`options`, its Details for an ERROR). A caller
   * that did not announce the mode cannot be sent the payload, and options the mode cannot carry
   * leave nothing to send: the call ends with ERROR `feature_not_supported` (the WAMP spec's answer to
   * the callee) or `invalid_option` to both, and null is returned. `ProtocolViolation` propagates.
   */
  #answerPassthru(call: Call, options: Dict): PptDetails | undefined | null {
    let refusal: WampError;
    try {
      const ppt = pptOptions(call.callee, 'callee', options);
      if (ppt === undefined || takesPassthru(call.caller, 'caller')) return ppt;
      refusal = new WampError(
        WampUri.FEATURE_NOT_SUPPORTED,
        'the caller did not announce payload_passthru_mode',
      );
    } catch (err) {
      if (!(err instanceof WampError) || err instanceof ProtocolViolation) throw err;
      refusal = err;
    }
    this.#finish(call);
    const reason = Payload.of([`the callee's answer: ${refusal.message}`]);
    call.caller.send(out.error(MessageType.CALL, call.request, refusal.uri, reason));
    call.callee.send(
      out.error(MessageType.INVOCATION, call.invocation, refusal.uri, Payload.of([refusal.message])),
    );
    return null;
  }

  removeSession(peer: Peer): { registration: Registration; deleted: boolean }[] {
    for (const call of [...(this.#invocations.get(peer)?.values() ?? [])]) {
      this.#finish(call);
      call.caller.send(out.refusal(MessageType.CALL, call.request, WampUri.CANCELED, CALLEE_LEFT));
    }
    for (const call of [...(this.#calls.get(peer)?.values() ?? [])]) {
      this.#finish(call);
      this.#interrupt(call, 'killnowait');
    }
    this.#calls.delete(peer);
    this.#invocations.delete(peer);
    this.#sequences.delete(peer);
    this.#endedInputs.delete(peer);
    return this.#registrations.removeSession(peer);
  }

  stats(): { calls: number; registrations: number } {
    return { calls: this.#callsRouted, registrations: this.#registrations.size };
  }
}
