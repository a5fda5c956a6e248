/**
 * Bounded logs of entries, each an opaque text: the WAMP broker keeps the last events of each event
 * history rule in one (docs/wamp.md, "Event history"). A cluster implementation keeps them in the
 * broker, so that every node reads what any node appended.
 */
export interface HistoryStore {
  /** Appends `entry` to the log, which then keeps its newest `limit` entries. */
  append(namespace: string, log: string, entry: string, limit: number): Promise<void>;
  /** The log's newest `count` entries, newest first; `[]` for a log never written. */
  latest(namespace: string, log: string, count: number): Promise<string[]>;
  /** Stops its work; the connections are the set's. Idempotent. */
  close(): Promise<void>;
}

/** The most entries one log keeps, whatever its rule asks: the hard cap of `eventHistory[].limit`. */
export const MAX_HISTORY_LIMIT = 1000;
