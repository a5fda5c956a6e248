import { HeraldError } from '../../core/errors.js';

/**
 * WAMP error and close URIs the router sends (WAMP spec, Basic Profile, Predefined URIs), each with the
 * stable code of the `WampError` that carries it. Callee-chosen error URIs are forwarded as they are and
 * never appear here.
 */
export const WampUri = {
  /** Malformed URI in a request, or `wamp.*` used by a client where only the router may. */
  INVALID_URI: 'wamp.error.invalid_uri',
  NO_SUCH_PROCEDURE: 'wamp.error.no_such_procedure',
  /** REGISTER where a registration exists and either side is `invoke:"single"`. */
  PROCEDURE_ALREADY_EXISTS: 'wamp.error.procedure_already_exists',
  /** Shared REGISTER with another `invoke` policy than the existing registration (Crossbar's URI). */
  PROCEDURE_EXISTS_INVOKE: 'wamp.error.procedure_exists_with_different_invocation_policy',
  NO_SUCH_REGISTRATION: 'wamp.error.no_such_registration',
  NO_SUCH_SUBSCRIPTION: 'wamp.error.no_such_subscription',
  NO_SUCH_SESSION: 'wamp.error.no_such_session',
  /** A request option or meta API argument of the wrong type or value. */
  INVALID_ARGUMENT: 'wamp.error.invalid_argument',
  /** Call canceled by the caller, or its callee left mid-call (one spelling, as every implementation). */
  CANCELED: 'wamp.error.canceled',
  /** Crossbar's answer when the router cannot serve the request now. */
  UNAVAILABLE: 'wamp.error.unavailable',
  /** Dealer-side call timeout (`CALL.Options.timeout`, milliseconds). */
  TIMEOUT: 'wamp.error.timeout',
  /** ABORT: a message over `wamp.maxMessageBytes`. */
  PAYLOAD_SIZE_EXCEEDED: 'wamp.error.payload_size_exceeded',
  /** ABORT: the client broke the protocol (WAMP spec, Basic Profile, Protocol errors). */
  PROTOCOL_VIOLATION: 'wamp.error.protocol_violation',
  /**
   * A role without the permission for a call, register, publish or subscribe; ABORT: HELLO from an
   * origin the realm does not admit.
   */
  NOT_AUTHORIZED: 'wamp.error.not_authorized',
  /** ABORT: HELLO names a realm that is not configured. */
  NO_SUCH_REALM: 'wamp.error.no_such_realm',
  /** ABORT: the authenticated role is not defined on the realm. */
  NO_SUCH_ROLE: 'wamp.error.no_such_role',
  /** ABORT: none of HELLO's `authmethods` is configured (the spec's name; Crossbar says `no_auth_method`). */
  NO_MATCHING_AUTH_METHOD: 'wamp.error.no_matching_auth_method',
  /** ABORT: wrong ticket, signature or secret, or an unknown principal. */
  AUTHENTICATION_FAILED: 'wamp.error.authentication_failed',
  /** Payload passthru options the mode cannot carry (wampy's URI; the WAMP spec names none). */
  INVALID_OPTION: 'wamp.error.invalid_option',
  /** A request needs a feature the router or the other peer lacks. */
  FEATURE_NOT_SUPPORTED: 'wamp.error.feature_not_supported',
  /** `wamp.subscription.get_events` for a subscription whose events are not kept (Crossbar's URI). */
  HISTORY_UNAVAILABLE: 'wamp.error.history_unavailable',
  /** `wamp.session.add_testament` with a bad scope (Crossbar's URI). */
  TESTAMENT_ERROR: 'wamp.error.testament_error',
  /**
   * A SUBSCRIBE, REGISTER or `wamp.session.add_testament` past one of the realm's per-session limits
   * (docs/wamp.md, "Settings"). Neither the WAMP spec's "Predefined URIs" nor Crossbar has a URI for a
   * resource limit, and `wamp.*` is the spec's own, so this one is Herald's, in the same style.
   */
  LIMIT_EXCEEDED: 'herald.error.limit_exceeded',
  /**
   * ABORT: HELLO (and AUTHENTICATE) not completed within `wamp.helloTimeoutMs`. The spec lets the router
   * ABORT during the opening handshake; its generic `wamp.error.timeout` is the closest URI.
   */
  HELLO_TIMEOUT: 'wamp.error.timeout',
  /** GOODBYE to every session when the realm or router goes away. */
  CLOSE_SYSTEM_SHUTDOWN: 'wamp.close.system_shutdown',
  /** The reply to a client's GOODBYE. */
  CLOSE_GOODBYE_AND_OUT: 'wamp.close.goodbye_and_out',
  /** GOODBYE to a session killed through the session meta API. */
  CLOSE_KILLED: 'wamp.close.killed',
} as const;

export type WampUriValue = (typeof WampUri)[keyof typeof WampUri];

/** `wamp.error.no_such_realm` → `ERR_WAMP_NO_SUCH_REALM`; `wamp.close.killed` → `ERR_WAMP_CLOSE_KILLED`. */
export function errorCode(uri: string): string {
  const [, kind, ...rest] = uri.split('.');
  const name = (kind === 'error' ? rest : [kind, ...rest]).join('_');
  return `ERR_WAMP_${name.toUpperCase()}`;
}

/**
 * A request the router refuses: answered with ERROR (or ABORT during the opening handshake) carrying
 * `uri` and `[message]` as arguments; the session goes on.
 */
export class WampError extends HeraldError {
  constructor(
    readonly uri: string,
    message: string,
  ) {
    super(errorCode(uri), message);
  }
}

/**
 * Something only a broken client sends (WAMP spec, Basic Profile, Protocol errors): the session is aborted
 * and its state dropped.
 */
export class ProtocolViolation extends WampError {
  constructor(message: string) {
    super(WampUri.PROTOCOL_VIOLATION, message);
  }
}
