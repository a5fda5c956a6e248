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
