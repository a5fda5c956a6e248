import { compareWildcards, type MatchPolicy, parseWildcard, type WildcardPattern } from './uri.js';

interface WildcardEntry<T> {
  readonly uri: string;
  readonly pattern: WildcardPattern;
  readonly value: T;
}

/**
 * One component position of the wildcard index: literal components lead to `literal`, an empty
 * pattern component (any one component) to `any`. A pattern's entry sits on the node its last
 * component leads to.
 */
interface WildcardNode<T> {
  readonly literal: Map<string, WildcardNode<T>>;
  any: WildcardNode<T> | undefined;
  entry: WildcardEntry<T> | undefined;
}

const newNode = <T>(): WildcardNode<T> => ({ literal: new Map(), any: undefined, entry: undefined });

/**
 * Values keyed by (URI, match policy): subscriptions, registrations and permission rules. Lookups
 * answer "which entries does this concrete URI hit" (`matchAll`) and "which one entry wins"
 * (`best`: exact, else the longest prefix, else the most specific wildcard; WAMP spec, "Pattern-based
 * Registrations").
 *
 * Both lookups cost what the URI's length and depth cost, not what the number of patterns costs, so
 * that one session's many pattern subscriptions cannot slow every publication of the realm: prefixes
 * are looked up once per distinct prefix length present, wildcards walk a tree of components.
 */
export class UriMap<T> {
  readonly #exact = new Map<string, T>();
  readonly #prefix = new Map<string, T>();
  /** The distinct lengths of the prefixes present, longest first, and how many prefixes have each. */
  #prefixLengths: number[] = [];
  readonly #prefixesOfLength = new Map<number, number>();
  /** Wildcard entries by pattern, in insertion order, and the index `matchAll` and `best` walk. */
  readonly #wildcard = new Map<string, WildcardEntry<T>>();
  readonly #wildcardRoot: WildcardNode<T> = newNode();

  get(uri: string, match: MatchPolicy): T | undefined {
    if (match === 'exact') return this.#exact.get(uri);
    if (match === 'prefix') return this.#prefix.get(uri);
    return this.#wildcard.get(uri)?.value;
  }

  /** Adds or replaces the entry for (uri, match). */
  set(uri: string, match: MatchPolicy, value: T): void {
    if (match === 'exact') {
      this.#exact.set(uri, value);
    } else if (match === 'prefix') {
      if (!this.#prefix.has(uri)) this.#countPrefixLength(uri.length, 1);
      this.#prefix.set(uri, value);
    } else {
      const entry = { uri, pattern: parseWildcard(uri), value };
      this.#wildcard.set(uri, entry);
      let node = this.#wildcardRoot;
      for (const component of entry.pattern) {
        if (component === null) {
          node.any ??= newNode();
          node = node.any;
        } else {
          let next = node.literal.get(component);
          if (!next) {
            next = newNode();
            node.literal.set(component, next);
          }
          node = next;
        }
      }
      node.entry = entry;
    }
  }

  delete(uri: string, match: MatchPolicy): boolean {
    if (match === 'exact') return this.#exact.delete(uri);
    if (match === 'prefix') {
      if (!this.#prefix.delete(uri)) return false;
      this.#countPrefixLength(uri.length, -1);
      return true;
    }
    const entry = this.#wildcard.get(uri);
    if (!entry) return false;
    this.#wildcard.delete(uri);
    // Walk down to the entry, then prune the nodes that lead to nothing any more, bottom up.
    const path: [WildcardNode<T>, string | null][] = [];
    let node = this.#wildcardRoot;
    for (const component of entry.pattern) {
      path.push([node, component]);
      node = (component === null ? node.any : node.literal.get(component))!;
    }
    node.entry = undefined;
    for (let i = path.length - 1; i >= 0; i--) {
      if (node.entry || node.any || node.literal.size > 0) break;
      const [parent, component] = path[i]!;
      if (component === null) parent.any = undefined;
      else parent.literal.delete(component);
      node = parent;
    }
    return true;
  }

  /** Every entry `uri` matches: the exact one first, then prefixes (longest first), then wildcards. */
  matchAll(uri: string): T[] {
    const out: T[] = [];
    const exact = this.#exact.get(uri);
    if (exact !== undefined) out.push(exact);
    for (const length of this.#prefixLengths) {
      if (length > uri.length) continue;
      const value = this.#prefix.get(length === uri.length ? uri : uri.slice(0, length));
      if (value !== undefined) out.push(value);
    }
    if (this.#wildcard.size > 0) {
      for (const entry of this.#wildcardMatches(uri)) out.push(entry.value);
    }
    return out;
  }

  /** The one entry that wins for `uri` (exact, longest prefix, most specific wildcard), if any. */
  best(uri: string): T | undefined {
    const exact = this.#exact.get(uri);
    if (exact !== undefined) return exact;
    for (const length of this.#prefixLengths) {
      if (length > uri.length) continue;
      const value = this.#prefix.get(length === uri.length ? uri : uri.slice(0, length));
      if (value !== undefined) return value;
    }
    if (this.#wildcard.size === 0) return undefined;
    let best: WildcardEntry<T> | undefined;
    for (const entry of this.#wildcardMatches(uri)) {
      if (!best || compareWildcards(entry.pattern, best.pattern) > 0) best = entry;
    }
    return best?.value;
  }

  /** Entries of one policy, in insertion order. */
  *values(match: MatchPolicy): IterableIterator<T> {
    if (match === 'exact') yield* this.#exact.values();
    else if (match === 'prefix') yield* this.#prefix.values();
    else for (const entry of this.#wildcard.values()) yield entry.value;
  }

  /**
   * Wildcard entries whose pattern has `uri`'s component count and agrees on every literal. Walked
   * with a stack of its own: a pattern may have as many components as a message can carry.
   */
  #wildcardMatches(uri: string): WildcardEntry<T>[] {
    const parts = uri.split('.');
    const found: WildcardEntry<T>[] = [];
    const stack: [WildcardNode<T>, number][] = [[this.#wildcardRoot, 0]];
    for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
      const [node, depth] = top;
      if (depth === parts.length) {
        if (node.entry) found.push(node.entry);
        continue;
      }
      // Pushed in reverse, so literal components are walked before wildcards.
      if (node.any) stack.push([node.any, depth + 1]);
      const literal = node.literal.get(parts[depth]!);
      if (literal) stack.push([literal, depth + 1]);
    }
    return found;
  }

  #countPrefixLength(length: number, delta: 1 | -1): void {
    const count = (this.#prefixesOfLength.get(length) ?? 0) + delta;
    if (count > 0) {
      if (count === 1 && delta === 1) {
        this.#prefixLengths = [...this.#prefixLengths, length].sort((a, b) => b - a);
      }
      this.#prefixesOfLength.set(length, count);
    } else {
      this.#prefixesOfLength.delete(length);
      this.#prefixLengths = this.#prefixLengths.filter((l) => l !== length);
    }
  }
}
