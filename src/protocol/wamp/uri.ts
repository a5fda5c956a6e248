/**
 * URI rules (WAMP spec, Basic Profile, URIs) and pattern matching for subscriptions, registrations and
 * permissions (WAMP spec, Advanced Profile, Pattern-based Subscriptions; Pattern-based Registrations;
 * docs/wamp.md, Authorization). Validation splits on `.` instead of using the spec's regular expressions,
 * which accept the same strings, so that its cost stays linear in the URI's length.
 */

export type MatchPolicy = 'exact' | 'prefix' | 'wildcard';
export const MATCH_POLICIES: readonly MatchPolicy[] = ['exact', 'prefix', 'wildcard'];

export function isMatchPolicy(value: unknown): value is MatchPolicy {
  return (MATCH_POLICIES as readonly unknown[]).includes(value);
}

/** `loose` (the spec's MUST, the default) or `strict` (lower-case letters, digits and `_` only). */
export type UriCheck = 'loose' | 'strict';

const COMPONENT: Record<UriCheck, RegExp> = {
  loose: /^[^\s.#]+$/,
  strict: /^[0-9a-z_]+$/,
};

/**
 * Whether `uri` is valid for `match`: `exact` allows no empty component, `prefix` an empty last one
 * (so `com.app.` and `` are valid prefixes) and `wildcard` any empty component.
 */
export function isValidUri(uri: string, match: MatchPolicy = 'exact', check: UriCheck = 'loose'): boolean {
  const parts = uri.split('.');
  const last = parts.length - 1;
  const component = COMPONENT[check];
  for (let i = 0; i <= last; i++) {
    const part = parts[i]!;
    if (part === '') {
      if (match === 'wildcard' || (match === 'prefix' && i === last)) continue;
      return false;
    }
    if (!component.test(part)) return false;
  }
  return true;
}

/** Whether a URI lies in the reserved `wamp.` namespace (WAMP spec, Basic Profile, Reserved URIs). */
export function isReserved(uri: string): boolean {
  return uri.startsWith('wamp.');
}

/** A parsed wildcard pattern: `null` stands for an empty component, which matches any one component. */
export type WildcardPattern = readonly (string | null)[];

export function parseWildcard(pattern: string): WildcardPattern {
  return pattern.split('.').map((p) => (p === '' ? null : p));
}

/** Same number of components, and every non-empty pattern component equal. */
export function matchesWildcard(pattern: WildcardPattern, parts: readonly string[]): boolean {
  if (pattern.length !== parts.length) return false;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p !== null && p !== parts[i]) return false;
  }
  return true;
}

/**
 * Orders wildcard patterns by selectivity (WAMP spec, Advanced Profile, Pattern-based Registrations):
 * compared component by component, a literal beats a wildcard at the first position where they differ.
 * Positive when `a` is more specific.
 */
export function compareWildcards(a: WildcardPattern, b: WildcardPattern): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const la = a[i] !== null;
    const lb = b[i] !== null;
    if (la !== lb) return la ? 1 : -1;
  }
  return 0;
}
