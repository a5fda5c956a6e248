/**
 * A map from keys to non-empty sets. Adding the first member of a key and removing its last are
 * reported, since those are the transitions callers act on (first subscriber, user online, …).
 */
export class SetMap<K, V> {
  readonly #sets = new Map<K, Set<V>>();

  /** True when `value` is the key's first member. */
  add(key: K, value: V): boolean {
    const set = this.#sets.get(key);
    if (set) {
      set.add(value);
      return false;
    }
    this.#sets.set(key, new Set([value]));
    return true;
  }

  /** True when `value` was the key's last member (the key is gone now). */
  remove(key: K, value: V): boolean {
    const set = this.#sets.get(key);
    if (!set?.delete(value)) return false;
    if (set.size > 0) return false;
    this.#sets.delete(key);
    return true;
  }

  get(key: K): ReadonlySet<V> | undefined {
    return this.#sets.get(key);
  }

  has(key: K): boolean {
    return this.#sets.has(key);
  }

  keys(): IterableIterator<K> {
    return this.#sets.keys();
  }

  get size(): number {
    return this.#sets.size;
  }
}
