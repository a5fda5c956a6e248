import type { DebugFeed, DebugItem, DebugWatcher } from '../../src/core/debug-feed.js';
import { until } from './wait.js';

/** A watcher whose items are collected as they come, and a way to wait for one. */
export interface Collected {
  readonly watcher: DebugWatcher;
  readonly items: DebugItem[];
  /** Resolves with the first item collected so far or later that `match` accepts. */
  find(match: (item: DebugItem) => boolean, what: string): Promise<DebugItem>;
}

export function collect(feed: DebugFeed, namespace: string): Collected {
  const items: DebugItem[] = [];
  const watcher: DebugWatcher = feed.watch(namespace, {
    maxPerSecond: 100_000,
    onReady: () => queueMicrotask(() => items.push(...watcher.take())),
  });
  return {
    watcher,
    items,
    async find(match, what) {
      await until(() => items.some(match), what);
      return items.find(match)!;
    },
  };
}

/** `item` is an event of `type` (and, when given, on `channel`). */
export const is =
  (type: string, fields: Record<string, unknown> = {}) =>
  (item: DebugItem): boolean =>
    item.type === type &&
    Object.entries(fields).every(([k, v]) => (item as unknown as Record<string, unknown>)[k] === v);
