import { boolean, decimal, integer, isObject, type Notes, text } from './notes.js';

/**
 * The settings of a peer's file as leaves (`adapter.redis.prefix` → its value), each read at most
 * once by the importer. What no importer read is what Herald does not carry: `warnRest` names each
 * such setting with the reason its peer-specific table gives.
 */
export class Settings {
  readonly #leaves: Map<string, unknown>;
  readonly #taken = new Set<string>();
  readonly #label: (path: string) => string;
  readonly notes: Notes;

  constructor(leaves: Map<string, unknown>, notes: Notes, label: (path: string) => string = (p) => p) {
    this.#leaves = leaves;
    this.notes = notes;
    this.#label = label;
  }

  /** How the file names the setting at `path` (an environment variable's name, or the path). */
  label(path: string): string {
    return this.#label(path);
  }

  has(path: string): boolean {
    return this.#leaves.has(path);
  }

  /** The value at `path`, marked as read; undefined when the file does not set it. */
  take(path: string): unknown {
    this.#taken.add(path);
    return this.#leaves.get(path);
  }

  /** Marks `path` as read and warns that it is not carried, with `reason`, when the file sets it. */
  drop(path: string, reason: string): void {
    if (this.has(path)) this.warn(path, reason);
    this.#taken.add(path);
  }

  warn(path: string, reason: string): void {
    this.notes.warn(this.label(path), reason);
  }

  /** A string (or a number, written as one); null and absent are undefined, anything else a warning. */
  string(path: string): string | undefined {
    const value = this.take(path);
    if (value === undefined || value === null) return undefined;
    const s = text(value);
    if (s === undefined) this.notes.invalid(this.label(path), value, 'text');
    return s;
  }

  /** A whole number within [min, max]; anything else is a warning and undefined. */
  integer(path: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const value = this.take(path);
    if (value === undefined || value === null) return undefined;
    const n = integer(value);
    if (n === undefined || n < min || n > max) {
      this.notes.invalid(
        this.label(path),
        value,
        `a whole number from ${min}${max < 2 ** 53 - 1 ? ` to ${max}` : ''}`,
      );
      return undefined;
    }
    return n;
  }

  /** A number above zero (fractions allowed: soketi's limits in KB may be `0.5`). */
  positive(path: string): number | undefined {
    const value = this.take(path);
    if (value === undefined || value === null) return undefined;
    const n = decimal(value);
    if (n === undefined || n <= 0) {
      this.notes.invalid(this.label(path), value, 'a number above 0');
      return undefined;
    }
    return n;
  }

  boolean(path: string): boolean | undefined {
    const value = this.take(path);
    if (value === undefined || value === null) return undefined;
    const b = boolean(value);
    if (b === undefined) this.notes.invalid(this.label(path), value, 'true or false');
    return b;
  }

  /** Warns once for every setting no importer read, with `reason(path)`'s reason. */
  warnRest(reason: (path: string, value: unknown) => string): void {
    for (const [path, value] of this.#leaves) {
      if (!this.#taken.has(path)) this.warn(path, reason(path, value));
    }
  }
}

/**
 * The leaves of a tree of settings: nested objects are walked (`a.b.c`), arrays and scalars are
 * leaves. Depth is bounded by the peer's own settings, so deeper nesting is one leaf.
 */
export function leavesOf(tree: unknown, maxDepth = 6): Map<string, unknown> {
  const leaves = new Map<string, unknown>();
  const walk = (node: unknown, path: string, depth: number) => {
    if (isObject(node) && depth < maxDepth && Object.keys(node).length > 0) {
      for (const [key, child] of Object.entries(node)) walk(child, path ? `${path}.${key}` : key, depth + 1);
    } else if (path) {
      leaves.set(path, node);
    }
  };
  walk(tree, '', 0);
  return leaves;
}
