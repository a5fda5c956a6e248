import type { Dict } from './messages.js';
import { optBool, optIds, optStrings } from './options.js';

/**
 * PUBLISH.Options the broker acts on (WAMP spec, Advanced Profile, Publisher Exclusion; Publisher
 * Identification; Subscriber Black- and Whitelisting; Event Retention).
 */
export interface PublishOptions {
  readonly excludeMe: boolean;
  readonly disclose: boolean;
  readonly retain: boolean;
  readonly exclude?: readonly number[];
  readonly excludeAuthid?: readonly string[];
  readonly excludeAuthrole?: readonly string[];
  readonly eligible?: readonly number[];
  readonly eligibleAuthid?: readonly string[];
  readonly eligibleAuthrole?: readonly string[];
}

/** Parses and checks PUBLISH.Options; wrong types throw `wamp.error.invalid_argument`. */
export function publishOptions(options: Dict): PublishOptions {
  const lists = {
    exclude: optIds(options, 'exclude'),
    excludeAuthid: optStrings(options, 'exclude_authid'),
    excludeAuthrole: optStrings(options, 'exclude_authrole'),
    eligible: optIds(options, 'eligible'),
    eligibleAuthid: optStrings(options, 'eligible_authid'),
    eligibleAuthrole: optStrings(options, 'eligible_authrole'),
  };
  const set = Object.fromEntries(Object.entries(lists).filter(([, v]) => v !== undefined));
  return {
    excludeMe: optBool(options, 'exclude_me') ?? true,
    disclose: optBool(options, 'disclose_me') ?? false,
    retain: optBool(options, 'retain') ?? false,
    ...set,
  };
}

/** The black- and whitelists of a publication. */
export type ReceiverLists = Pick<
  PublishOptions,
  'exclude' | 'excludeAuthid' | 'excludeAuthrole' | 'eligible' | 'eligibleAuthid' | 'eligibleAuthrole'
>;

/**
 * Black- and whitelisting (WAMP spec, Advanced Profile, Subscriber Black- and Whitelisting): every
 * present `eligible*` list holds the peer, no `exclude*` does.
 */
export function eligible(peer: { id: number; authid: string; authrole: string }, o: ReceiverLists): boolean {
  return (
    (o.eligible === undefined || o.eligible.includes(peer.id)) &&
    (o.eligibleAuthid === undefined || o.eligibleAuthid.includes(peer.authid)) &&
    (o.eligibleAuthrole === undefined || o.eligibleAuthrole.includes(peer.authrole)) &&
    !o.exclude?.includes(peer.id) &&
    !o.excludeAuthid?.includes(peer.authid) &&
    !o.excludeAuthrole?.includes(peer.authrole)
  );
}
