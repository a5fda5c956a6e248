import type { HistoryStore } from './store.js';

/** Logs in this process: each an array, oldest first, cut to its limit on every append. */
export class MemoryHistoryStore implements HistoryStore {
  readonly #logs = new Map<string, string[]>();

  async append(namespace: string, log: string, entry: string, limit: number): Promise<void> {
    const key = `${namespace}\0${log}`;
    let entries = this.#logs.get(key);
    if (entries === undefined) {
      entries = [];
      this.#logs.set(key, entries);
    }
    entries.push(entry);
    if (entries.length > limit) entries.splice(0, entries.length - limit);
  }

  async latest(namespace: string, log: string, count: number): Promise<string[]> {
    const entries = this.#logs.get(`${namespace}\0${log}`) ?? [];
    return entries.slice(Math.max(0, entries.length - count)).reverse();
  }

  async close(): Promise<void> {}
}
