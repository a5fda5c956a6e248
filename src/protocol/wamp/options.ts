import { WampError, WampUri } from './errors.js';
import { isId } from './ids.js';
import type { Dict } from './messages.js';
import { isMatchPolicy, MATCH_POLICIES, type MatchPolicy } from './uri.js';

/**
 * Readers of request options (the features of the WAMP spec's Advanced Profile). Unknown keys are
 * ignored (WAMP spec, Basic Profile, Messages, Extensibility), `undefined` (wampy's MessagePack) and
 * `null` count as absent, and a known key of the wrong type is refused with
 * `wamp.error.invalid_argument`.
 */

const invalid = (key: string, what: string) =>
  new WampError(WampUri.INVALID_ARGUMENT, `option "${key}" must be ${what}`);

function get(options: Dict, key: string): unknown {
  const value = options[key];
  return value === null ? undefined : value;
}

export function optBool(options: Dict, key: string): boolean | undefined {
  const value = get(options, key);
  if (value === undefined || typeof value === 'boolean') return value;
  throw invalid(key, 'a boolean');
}

/** A non-negative integer (wampy's msgpackr may send it as an integral float). */
export function optInt(options: Dict, key: string): number | undefined {
  const value = get(options, key);
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  throw invalid(key, 'a non-negative integer');
}

export function optString(options: Dict, key: string): string | undefined {
  const value = get(options, key);
  if (value === undefined || typeof value === 'string') return value;
  throw invalid(key, 'a string');
}

/** A list of session IDs; a scalar is taken as a list of one (wampy sends either). */
export function optIds(options: Dict, key: string): number[] | undefined {
  const value = get(options, key);
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (list.every(isId)) return list;
  throw invalid(key, 'a list of session IDs');
}

export function optStrings(options: Dict, key: string): string[] | undefined {
  const value = get(options, key);
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (list.every((v) => typeof v === 'string')) return list as string[];
  throw invalid(key, 'a list of strings');
}

/**
 * `match` of SUBSCRIBE and REGISTER; an unknown policy is refused (WAMP spec, Advanced Profile,
 * Pattern-based Subscriptions, says nothing of one).
 */
export function optMatch(options: Dict): MatchPolicy {
  const value = optString(options, 'match') ?? 'exact';
  if (isMatchPolicy(value)) return value;
  throw invalid('match', `one of ${MATCH_POLICIES.join(', ')}`);
}

/**
 * The longest dealer-side call timeout: the longest delay a Node.js timer can wait (2^31 − 1 ms, about
 * 24.8 days). Past it `setTimeout` fires after 1 ms, so a longer `timeout` is capped to it (docs/wamp.md,
 * "What the router implements").
 */
export const MAX_CALL_TIMEOUT_MS = 2 ** 31 - 1;

/** `CALL.Options.timeout` in milliseconds, capped at `MAX_CALL_TIMEOUT_MS`; 0 (or absent) is none. */
export function callTimeoutMs(options: Dict): number {
  return Math.min(optInt(options, 'timeout') ?? 0, MAX_CALL_TIMEOUT_MS);
}
