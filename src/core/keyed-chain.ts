const ignore = (): void => {};

/**
 * Promise chains by key: the work given for a key runs after the work given for it before (whether
 * that succeeded or failed), different keys run independently, and a key is forgotten once its last
 * work has settled. Work given for a key with nothing pending starts at once, synchronously.
 */
export class KeyedChain {
  readonly #tails = new Map<string, Promise<void>>();

  /**
   * Runs `step` after the work pending on `key`; its result or error comes back in the promise (the
   * caller handles a rejection; the chain goes on regardless). A step that returns a value, not a
   * promise, with nothing pending before it leaves nothing behind.
   */
  run<T>(key: string, step: () => T | PromiseLike<T>): Promise<T> {
    const before = this.#tails.get(key);
    let result: T | PromiseLike<T>;
    if (before) {
      result = before.then(step);
    } else {
      try {
        result = step();
      } catch (err) {
        return Promise.reject(err);
      }
      if (!isThenable(result)) return Promise.resolve(result);
    }
    const next = Promise.resolve(result);
    const tail = next.then(ignore, ignore);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }

  /** Whether work is pending on `key`. */
  has(key: string): boolean {
    return this.#tails.has(key);
  }

  /** Settles (never rejects) once the work given for `key` so far has settled. */
  settled(key: string): Promise<void> {
    return this.#tails.get(key) ?? Promise.resolve();
  }

  /** Settles (never rejects) once all the work given so far has settled. */
  async allSettled(): Promise<void> {
    await Promise.all(this.#tails.values());
  }

  /** Keys with work pending. */
  get size(): number {
    return this.#tails.size;
  }
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === 'function';
}
