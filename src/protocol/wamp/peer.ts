import type { Outgoing, Serializer } from './codec.js';
import type { Dict } from './messages.js';

export type ClientRole = 'publisher' | 'subscriber' | 'caller' | 'callee';

/**
 * A joined session as the broker, dealer and meta API see it. Sessions implement it; unit tests use a
 * fake that records messages.
 */
export interface Peer {
  /** The WAMP session ID (WELCOME). */
  readonly id: number;
  readonly authid: string;
  readonly authrole: string;
  readonly serializer: Serializer;
  /** Queues a message; a no-op once the session has left. */
  send(message: Outgoing): void;
  /** Whether HELLO announced `feature` under `role` (`roles.callee.features.call_canceling`). */
  has(role: ClientRole, feature: string): boolean;
  /**
   * The session's details for `wamp.session.get` and `wamp.session.on_join` (WAMP spec, Advanced Profile,
   * Session Meta API).
   */
  details(): Dict;
  /**
   * Ends the session from the router's side with GOODBYE `reason` (meta API kill). `quiet` skips its
   * testaments and `wamp.session.on_leave` (`wamp.session.kill_all`).
   */
  kill(reason: string, message: string | undefined, quiet: boolean): void;
}
