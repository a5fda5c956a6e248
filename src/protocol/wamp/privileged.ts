import type { Dict } from './messages.js';
import { isDict, Payload } from './payload.js';

/**
 * What only a role trusted with the router's own namespace gets: the meta procedures that end other
 * sessions, and the peer address of each session's transport. A role has that trust for a URI when the
 * permission rule that applies to it names `wamp.` itself (an exact `wamp.session.kill_all`, a prefix
 * `wamp.session.` or `wamp.`, a wildcard `wamp.session.`…): a catch-all rule such as `""` or `*`,
 * which opens everything else, is not enough (docs/wamp.md, "Authorization").
 */
export const PRIVILEGED_PROCEDURES: ReadonlySet<string> = new Set([
  'wamp.session.kill',
  'wamp.session.kill_by_authid',
  'wamp.session.kill_by_authrole',
  'wamp.session.kill_all',
]);

/** The meta event whose session details carry a peer address (`transport.peer`). */
export const SESSION_JOIN_TOPIC = 'wamp.session.on_join';

/** Session details (`wamp.session.get`, `wamp.session.on_join`) without the transport's peer address. */
export function withoutPeerAddress(details: Dict): Dict {
  const { transport } = details;
  if (!isDict(transport) || !('peer' in transport)) return details;
  const { peer: _peer, ...rest } = transport;
  return { ...details, transport: rest };
}

/** The `wamp.session.on_join` payload (`[details]`) as a subscriber without the trust sees it. */
export function joinWithoutPeerAddress(payload: Payload | undefined): Payload | undefined {
  if (payload === undefined) return undefined;
  const { args } = payload.values();
  return Payload.of(args.map((a) => (isDict(a) ? withoutPeerAddress(a) : a)));
}
