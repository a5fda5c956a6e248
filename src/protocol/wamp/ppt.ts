import { ProtocolViolation, WampError, WampUri } from './errors.js';
import type { Dict } from './messages.js';
import type { ClientRole, Peer } from './peer.js';

/**
 * Payload Passthru Mode (WAMP spec, Advanced Profile, Payload Passthru Mode): a PUBLISH, CALL, YIELD or
 * ERROR whose options carry `ppt_scheme` has a payload the router neither reads nor checks; the four
 * `ppt_*` options go along in the Details of the EVENT, INVOCATION, RESULT or ERROR it becomes, to
 * peers that announced the feature only.
 */

export const PPT_FEATURE = 'payload_passthru_mode';
export const PPT_KEYS = ['ppt_scheme', 'ppt_serializer', 'ppt_cipher', 'ppt_keyid'] as const;

/** The `ppt_*` options of a request, copied into the Details of what it becomes. */
export type PptDetails = Partial<Record<(typeof PPT_KEYS)[number], string>>;

/**
 * Schemes: the spec's predefined `mqtt` and `wamp` (end-to-end encryption, `wamp.eth` in the spec's
 * table), and custom ones, which start with `x_` (wampy allows exactly `wamp`, `mqtt` and `x_*`).
 */
const SCHEME = /^(mqtt|wamp|wamp\.[^\s]+|x_[^\s]+)$/;

/** wampy's URI for passthru options it cannot use; the WAMP spec names none. */
const invalid = (message: string) => new WampError(WampUri.INVALID_OPTION, message);

/**
 * The passthru options of a request from `peer` in `role`, or undefined when it uses no passthru.
 * Throws `ProtocolViolation` when the peer did not announce the feature (the spec's MUST), and
 * `WampError` `wamp.error.invalid_option` for options the mode cannot carry: a `ppt_*` key without
 * `ppt_scheme`, a value that is not a string, a scheme outside `mqtt`, `wamp` and `x_*`.
 */
export function pptOptions(peer: Peer, role: ClientRole, options: Dict): PptDetails | undefined {
  const present = PPT_KEYS.filter((k) => options[k] !== undefined && options[k] !== null);
  if (present.length === 0) return undefined;
  if (!peer.has(role, PPT_FEATURE)) {
    throw new ProtocolViolation(`${present[0]} from a ${role} that did not announce ${PPT_FEATURE}`);
  }
  const details: PptDetails = {};
  for (const key of present) {
    const value = options[key];
    if (typeof value !== 'string' || value === '')
      throw invalid(`option "${key}" must be a non-empty string`);
    details[key] = value;
  }
  if (details.ppt_scheme === undefined) throw invalid(`option "${present[0]}" needs "ppt_scheme"`);
  if (!SCHEME.test(details.ppt_scheme)) {
    throw invalid(`ppt_scheme "${details.ppt_scheme}" is none of "mqtt", "wamp" or a custom "x_…" scheme`);
  }
  return details;
}

/** Whether a message's Details say its payload is in passthru mode. */
export const isPassthru = (details: Dict): boolean => typeof details.ppt_scheme === 'string';

/** Whether `peer` may be sent a passthru payload in `role`. */
export const takesPassthru = (peer: Peer, role: ClientRole): boolean => peer.has(role, PPT_FEATURE);
