import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { appSchema } from '../../../../src/config/schema.js';
import { type App, type AppStore, AppStoreUnavailable } from '../../../../src/core/apps/app.js';
import { CachedAppStore, type CachedAppStoreOptions } from '../../../../src/core/apps/cached-store.js';

/** An in-memory store that counts the lookups it answers and can be made to fail. */
class CountingStore implements AppStore {
  readonly apps = new Map<string, App>();
  lookups = 0;
  down = false;

  put(fields: { id: string; key: string } & Partial<App>): App {
    const app = appSchema.parse({ secret: 's', ...fields });
    this.apps.set(app.id, app);
    return app;
  }

  async findByKey(key: string): Promise<App | undefined> {
    this.#ask();
    return [...this.apps.values()].find((a) => a.key === key);
  }

  async findById(id: string): Promise<App | undefined> {
    this.#ask();
    return this.apps.get(id);
  }

  async all(): Promise<readonly App[]> {
    return [...this.apps.values()];
  }

  #ask(): void {
    this.lookups++;
    if (this.down) throw new AppStoreUnavailable('database unreachable');
  }
}

/** A store that also answers many keys or ids in one query, counting the queries. */
class BatchingStore extends CountingStore {
  queries: string[][] = [];

  async findMany(field: 'key' | 'id', values: readonly string[]): Promise<readonly App[]> {
    this.queries.push([...values]);
    if (this.down) throw new AppStoreUnavailable('database unreachable');
    return [...this.apps.values()].filter((a) => values.includes(field === 'key' ? a.key : a.id));
  }
}

function setup(options: Partial<CachedAppStoreOptions> = {}, store = new CountingStore()) {
  let now = 1_000_000;
  const changes: [string, App | undefined][] = [];
  const cache = new CachedAppStore(store, {
    ttlMs: 60_000,
    missTtlMs: 10_000,
    lookupsPerSecond: 100,
    now: () => now,
    onChange: (id, app) => changes.push([id, app]),
    ...options,
  });
  const advance = (ms: number) => {
    now += ms;
  };
  return { store, cache, changes, advance };
}

/** Lets the refreshes started behind an answer settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('CachedAppStore', () => {
  test('an app is looked up once a TTL, whether asked for by key or by id', async () => {
    const { store, cache } = setup();
    store.put({ id: '1', key: 'k1' });
    assert.equal((await cache.findByKey('k1'))?.id, '1');
    assert.equal((await cache.findById('1'))?.key, 'k1');
    for (let i = 0; i < 10; i++) await cache.findByKey('k1');
    assert.equal(store.lookups, 1);
  });

  test('concurrent lookups of one key share one query', async () => {
    const { store, cache } = setup();
    store.put({ id: '1', key: 'k1' });
    const found = await Promise.all(Array.from({ length: 20 }, () => cache.findByKey('k1')));
    assert.ok(found.every((app) => app?.id === '1'));
    assert.equal(store.lookups, 1);
  });

  test('past the TTL the app answers at once and is refreshed behind the answer, and a change is told', async () => {
    const { store, cache, changes, advance } = setup();
    store.put({ id: '1', key: 'k1', maxConnections: 5 });
    await cache.findByKey('k1');
    store.put({ id: '1', key: 'k1', maxConnections: 2 });
    advance(60_001);
    assert.equal((await cache.findByKey('k1'))?.maxConnections, 5, 'the cached app, at once');
    await settle();
    assert.equal(store.lookups, 2);
    assert.equal((await cache.findByKey('k1'))?.maxConnections, 2);
    assert.deepEqual(
      changes.map(([id, app]) => [id, app?.maxConnections]),
      [['1', 2]],
    );
  });

  test('an unknown key is remembered for missTtlMs', async () => {
    const { store, cache, advance } = setup();
    assert.equal(await cache.findByKey('nope'), undefined);
    assert.equal(await cache.findByKey('nope'), undefined);
    assert.equal(store.lookups, 1);
    store.put({ id: '9', key: 'nope' });
    advance(10_001);
    assert.equal((await cache.findByKey('nope'))?.id, '9');
    assert.equal(store.lookups, 2);
  });

  test('invalidating an app makes its next lookup wait for the store, and clears what was unknown', async () => {
    const { store, cache, changes } = setup();
    store.put({ id: '1', key: 'k1' });
    await cache.findById('1');
    assert.equal(await cache.findByKey('k2'), undefined);
    store.put({ id: '1', key: 'k1', enabled: false });
    store.put({ id: '2', key: 'k2' });
    cache.invalidate('1');
    assert.equal((await cache.findById('1'))?.enabled, false);
    assert.equal((await cache.findByKey('k2'))?.id, '2');
    assert.deepEqual(
      changes.map(([id, app]) => [id, app?.enabled]),
      [['1', false]],
    );
  });

  test('an app deleted is told as gone when looked up by id; a key given up is not a deletion', async () => {
    const { store, cache, changes } = setup();
    store.put({ id: '1', key: 'k1' });
    store.put({ id: '2', key: 'k2' });
    await cache.findById('1');
    await cache.findById('2');
    store.put({ id: '2', key: 'k2-new' });
    cache.invalidate(null);
    assert.equal(await cache.findByKey('k2'), undefined, 'the old key names nothing now');
    assert.equal((await cache.findByKey('k2-new'))?.id, '2');
    store.apps.delete('1');
    cache.invalidate('1');
    assert.equal(await cache.findById('1'), undefined);
    assert.deepEqual(
      changes.map(([id, app]) => [id, app?.key]),
      [
        ['2', 'k2-new'],
        ['1', undefined],
      ],
    );
    assert.deepEqual(cache.cachedIds(), ['2']);
  });

  test('with the store down, cached apps keep serving, expired or invalidated, and the rest is unavailable', async () => {
    const answers: boolean[] = [];
    const { store, cache, advance } = setup({ onStoreAnswer: (ok) => answers.push(ok) });
    store.put({ id: '1', key: 'k1' });
    await cache.findByKey('k1');
    store.down = true;
    advance(60_001);
    assert.equal((await cache.findByKey('k1'))?.id, '1');
    await settle();
    cache.invalidate('1');
    assert.equal((await cache.findByKey('k1'))?.id, '1');
    await assert.rejects(cache.findByKey('k2'), AppStoreUnavailable);
    store.down = false;
    store.put({ id: '2', key: 'k2' });
    assert.equal((await cache.findByKey('k2'))?.id, '2');
    assert.deepEqual(answers, [true, false, false, false, true]);
  });

  test('a store failing with any error is unavailable to the caller', async () => {
    const store: AppStore = {
      findByKey: () => Promise.reject(new Error('boom')),
      findById: () => Promise.reject(new Error('boom')),
      all: async () => [],
    };
    const cache = new CachedAppStore(store, { ttlMs: 1000, missTtlMs: 1000, lookupsPerSecond: 10 });
    await assert.rejects(
      cache.findByKey('k'),
      (err) => err instanceof AppStoreUnavailable && /boom/.test(err.message),
    );
  });

  test('a flood of random keys costs the store at most the lookup rate', async () => {
    const { store, cache, advance } = setup({ lookupsPerSecond: 50 });
    let refused = 0;
    for (let second = 0; second < 5; second++) {
      for (let i = 0; i < 1000; i++) {
        await cache.findByKey(`random-${second}-${i}`).catch((err) => {
          assert.ok(err instanceof AppStoreUnavailable);
          refused++;
        });
      }
      advance(1000);
    }
    assert.equal(store.lookups, 100 + 4 * 50, 'a burst of twice the rate, then the rate');
    assert.equal(refused, 5000 - store.lookups);
  });

  test('property: answers name what was asked, and after invalidating everything they are the store’s', async () => {
    const op = fc.oneof(
      fc.record({
        op: fc.constant('put' as const),
        id: fc.integer({ min: 0, max: 4 }),
        key: fc.integer({ min: 0, max: 6 }),
      }),
      fc.record({ op: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ op: fc.constant('byKey' as const), key: fc.integer({ min: 0, max: 6 }) }),
      fc.record({ op: fc.constant('byId' as const), id: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 70_000 }) }),
      fc.record({ op: fc.constant('invalidate' as const), id: fc.option(fc.integer({ min: 0, max: 4 })) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), fc.boolean(), async (ops, batching) => {
        const store = batching ? new BatchingStore() : new CountingStore();
        const { cache, advance } = setup({ lookupsPerSecond: 1_000_000 }, store);
        for (const o of ops) {
          if (o.op === 'put') {
            // Keys stay unique in the store, as its unique index keeps them.
            for (const [id, app] of store.apps)
              if (app.key === `k${o.key}` && id !== `i${o.id}`) store.apps.delete(id);
            store.put({ id: `i${o.id}`, key: `k${o.key}` });
          } else if (o.op === 'delete') {
            store.apps.delete(`i${o.id}`);
          } else if (o.op === 'advance') {
            advance(o.ms);
          } else if (o.op === 'invalidate') {
            cache.invalidate(o.id === null ? null : `i${o.id}`);
            if (o.id === null) {
              // Everything is asked again: each answer is the store's.
              for (let k = 0; k <= 6; k++) {
                const truth = [...store.apps.values()].find((a) => a.key === `k${k}`);
                assert.equal((await cache.findByKey(`k${k}`))?.id, truth?.id);
              }
            }
          } else {
            const asked = o.op === 'byKey' ? `k${o.key}` : `i${o.id}`;
            const found = await (o.op === 'byKey' ? cache.findByKey(asked) : cache.findById(asked));
            if (found) assert.equal(o.op === 'byKey' ? found.key : found.id, asked);
          }
          await settle();
        }
      }),
      { numRuns: 200 },
    );
  });

  test('with findMany, the lookups of one turn go in one query per hundred, each answered its own', async () => {
    const store = new BatchingStore();
    const { cache } = setup({ lookupsPerSecond: 1000 }, store);
    for (let i = 0; i < 150; i += 2) store.put({ id: `i${i}`, key: `k${i}` });
    const found = await Promise.all(Array.from({ length: 150 }, (_, i) => cache.findByKey(`k${i}`)));
    assert.deepEqual(
      found.map((app) => app?.id),
      Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? `i${i}` : undefined)),
    );
    assert.deepEqual(
      store.queries.map((q) => q.length),
      [100, 50],
    );
    assert.equal(store.lookups, 0, 'no lookup one by one');
    // Cached and remembered as unknown: nothing more is asked.
    await Promise.all(Array.from({ length: 150 }, (_, i) => cache.findByKey(`k${i}`)));
    assert.equal(store.queries.length, 2);
  });

  test('with findMany, a failed query fails each of its lookups', async () => {
    const store = new BatchingStore();
    const { cache } = setup({}, store);
    store.down = true;
    const results = await Promise.allSettled([
      cache.findByKey('a'),
      cache.findById('b'),
      cache.findByKey('c'),
    ]);
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof AppStoreUnavailable));
    assert.deepEqual(store.queries, [['a', 'c'], ['b']]);
  });

  test('primed apps are served by key and by id without the store until their TTL', async () => {
    const { store, cache, advance } = setup();
    const one = store.put({ id: '1', key: 'k1' });
    const two = store.put({ id: '2', key: 'k2' });
    cache.prime([one, two]);
    assert.equal((await cache.findByKey('k1'))?.id, '1');
    assert.equal((await cache.findById('2'))?.key, 'k2');
    assert.equal(store.lookups, 0);
    advance(60_001);
    await cache.findByKey('k1');
    await settle();
    assert.equal(store.lookups, 1, 'refreshed once its TTL has passed');
  });
});
