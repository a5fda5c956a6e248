import {
  compareWildcards,
  type MatchPolicy,
  matchesWildcard,
  parseWildcard,
  type WildcardPattern,
} from './uri.js';

interface WildcardEntry<T> {
  readonly uri: string;
  readonly pattern: WildcardPattern;
  readonly value: T;
}

/**
 * Values keyed by (URI, match policy): subscriptions, registrations and permission rules. Lookups
 * answer "which entries does this concrete URI hit" (`matchAll`) and "which one entry wins"
 * (`best`: exact, else the longest prefix, else the most specific wildcard; spec §4.3).
 */
export class UriMap<T> {
  readonly #exact = new Map<string, T>();
  readonly #prefix = new Map<string, T>();
  /** Wildcard entries grouped by component count, since only equal counts can match. */
  readonly #wildcard = new Map<number, WildcardEntry<T>[]>();
  #wildcards = 0;

  get(uri: string, match: MatchPolicy): T | undefined {
    if (match === 'exact') return this.#exact.get(uri);
    if (match === 'prefix') return this.#prefix.get(uri);
    const group = this.#wildcard.get(componentCount(uri));
    return group?.find((e) => e.uri === uri)?.value;
  }

  /** Adds or replaces the entry for (uri, match). */
  set(uri: string, match: MatchPolicy, value: T): void {
    if (match === 'exact') this.#exact.set(uri, value);
    else if (match === 'prefix') this.#prefix.set(uri, value);
    else {
      const n = componentCount(uri);
      const group = this.#wildcard.get(n) ?? [];
      const i = group.findIndex((e) => e.uri === uri);
      const entry = { uri, pattern: parseWildcard(uri), value };
      if (i >= 0) group[i] = entry;
      else {
        group.push(entry);
        this.#wildcards++;
      }
      this.#wildcard.set(n, group);
    }
  }

  delete(uri: string, match: MatchPolicy): boolean {
    if (match === 'exact') return this.#exact.delete(uri);
    if (match === 'prefix') return this.#prefix.delete(uri);
    const n = componentCount(uri);
    const group = this.#wildcard.get(n);
    const i = group?.findIndex((e) => e.uri === uri) ?? -1;
    if (!group || i < 0) return false;
    group.splice(i, 1);
    this.#wildcards--;
    if (group.length === 0) this.#wildcard.delete(n);
    return true;
  }

  /** Every entry `uri` matches: the exact one first, then prefixes, then wildcards. */
  matchAll(uri: string): T[] {
    const out: T[] = [];
    const exact = this.#exact.get(uri);
    if (exact !== undefined) out.push(exact);
    for (const [prefix, value] of this.#prefix) if (uri.startsWith(prefix)) out.push(value);
    if (this.#wildcards > 0) {
      const parts = uri.split('.');
      for (const e of this.#wildcard.get(parts.length) ?? []) {
        if (matchesWildcard(e.pattern, parts)) out.push(e.value);
      }
    }
    return out;
  }

  /** The one entry that wins for `uri` (spec §4.3 order), if any. */
  best(uri: string): T | undefined {
    const exact = this.#exact.get(uri);
    if (exact !== undefined) return exact;
    let bestPrefix: string | undefined;
    for (const prefix of this.#prefix.keys()) {
      if (uri.startsWith(prefix) && (bestPrefix === undefined || prefix.length > bestPrefix.length)) {
        bestPrefix = prefix;
      }
    }
    if (bestPrefix !== undefined) return this.#prefix.get(bestPrefix);
    if (this.#wildcards === 0) return undefined;
    const parts = uri.split('.');
    let best: WildcardEntry<T> | undefined;
    for (const e of this.#wildcard.get(parts.length) ?? []) {
      if (matchesWildcard(e.pattern, parts) && (!best || compareWildcards(e.pattern, best.pattern) > 0)) {
        best = e;
      }
    }
    return best?.value;
  }

  /** Entries of one policy, in insertion order. */
  *values(match: MatchPolicy): IterableIterator<T> {
    if (match === 'exact') yield* this.#exact.values();
    else if (match === 'prefix') yield* this.#prefix.values();
    else for (const group of this.#wildcard.values()) for (const e of group) yield e.value;
  }
}

function componentCount(uri: string): number {
  let n = 1;
  for (let i = uri.indexOf('.'); i >= 0; i = uri.indexOf('.', i + 1)) n++;
  return n;
}
