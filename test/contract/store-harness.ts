import { randomUUID } from 'node:crypto';
import { after } from 'node:test';

/** What the store contracts (presence, occupancy) need from each implementation under test. */
export interface StoreHarness<S> {
  name: string;
  /** `false` when the implementation can run here, else why not. */
  skip: string | false;
  /** False for a store that lives in one process: cross-node cases are skipped. */
  shared: boolean;
  /** A store acting for `nodeId`; stores from one harness share their data when `shared`. */
  store(nodeId: string): S;
  /** Removes whatever the run left behind in the backend. */
  cleanup(): Promise<void>;
}

/**
 * Inside a contract's `describe`: a factory of stores that are all closed, and the backend cleaned,
 * after the suite; each test gets a namespace of its own; `shared` is the option that skips
 * cross-node cases for single-process stores.
 */
export function storeFixture<S extends { close(): Promise<void> }>(harness: StoreHarness<S>) {
  const stores: S[] = [];
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await harness.cleanup();
  });
  return {
    store(nodeId: string = randomUUID()): S {
      const s = harness.store(nodeId);
      stores.push(s);
      return s;
    },
    namespace: () => `pusher:${randomUUID()}`,
    shared: harness.shared ? {} : { skip: `${harness.name} holds one node only` },
  };
}
