import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { TestHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';

/**
 * Shared pieces of the property-based fuzz suites in this folder. Each suite runs a real server on
 * port 0, throws generated input at one surface, and after every case checks the invariants below.
 *
 * `HERALD_FUZZ_RUNS` sets the cases per property (the default keeps the whole fuzz suite near a
 * minute); `HERALD_FUZZ_SEED` replays a failing run, whose seed every property prints.
 */

/** Cases per property: `HERALD_FUZZ_RUNS` or the suite's own default. */
export function fuzzRuns(defaultRuns: number): number {
  const runs = Number(process.env.HERALD_FUZZ_RUNS);
  return Number.isInteger(runs) && runs > 0 ? runs : defaultRuns;
}

/** The seed of this run, fixed by `HERALD_FUZZ_SEED` or drawn once per process. */
export const FUZZ_SEED = (() => {
  const given = Number(process.env.HERALD_FUZZ_SEED);
  return Number.isInteger(given) ? given : (Math.random() * 2 ** 31) | 0;
})();

/**
 * Runs an async property with the run's seed and case count, and prints both so a failure can be
 * replayed with `HERALD_FUZZ_SEED=<seed>`. A failure's message carries fast-check's counterexample.
 */
export async function fuzz<Ts extends [unknown, ...unknown[]]>(
  name: string,
  defaultRuns: number,
  arbitraries: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => Promise<void>,
): Promise<void> {
  const numRuns = fuzzRuns(defaultRuns);
  console.log(
    `# fuzz ${name}: seed ${FUZZ_SEED}, ${numRuns} runs (replay with HERALD_FUZZ_SEED=${FUZZ_SEED})`,
  );
  await fc.assert(fc.asyncProperty(...arbitraries, predicate), {
    seed: FUZZ_SEED,
    numRuns,
    includeErrorInReport: true,
  });
}

/** Resident memory may grow by this much over a whole suite before it counts as unbounded. */
const RSS_GROWTH_LIMIT = 256 * 1024 * 1024;

/**
 * A client on its own connection that stands for everyone else on the server: after each fuzz case
 * the server must still answer it a pong and deliver it an event published through the HTTP API.
 */
export class Observer {
  readonly #server: TestHerald;
  readonly #client: RawClient;
  readonly #rssAtStart: number;
  #probes = 0;

  private constructor(server: TestHerald, client: RawClient) {
    this.#server = server;
    this.#client = client;
    this.#rssAtStart = process.memoryUsage().rss;
  }

  static readonly CHANNEL = 'fuzz-observer';

  /** Connects and subscribes the observer on `server`'s default app. */
  static async connect(server: TestHerald): Promise<Observer> {
    const { client } = await RawClient.connect(server.wsUrl());
    const answer = await within(client.subscribe(Observer.CHANNEL), 5000, 'observer subscription');
    assert.equal(answer.event, 'pusher_internal:subscription_succeeded');
    return new Observer(server, client);
  }

  /**
   * The invariants every case must leave standing: `/ready` is 200, the observer gets a pong and an
   * event published after the case, and resident memory stays bounded. Never waits without a limit.
   */
  async check(): Promise<void> {
    const ready = await within(fetch(`${this.#server.httpUrl}/ready`), 5000, '/ready');
    assert.equal(ready.status, 200, '/ready must stay 200');
    await ready.arrayBuffer();

    this.#client.send({ event: 'pusher:ping', data: {} });
    await within(this.#client.next('pusher:pong'), 5000, 'observer pong');

    const probe = `probe-${++this.#probes}`;
    const delivered = this.#client.next((f) => f.channel === Observer.CHANNEL && f.event === probe);
    await within(this.#server.sdk().trigger(Observer.CHANNEL, probe, { n: this.#probes }), 5000, 'publish');
    await within(delivered, 5000, `observer event ${probe}`);

    const growth = process.memoryUsage().rss - this.#rssAtStart;
    assert.ok(growth < RSS_GROWTH_LIMIT, `RSS grew by ${Math.round(growth / 1048576)} MiB during the suite`);
  }

  close(): void {
    this.#client.close();
  }
}

/** JSON values of any shape and odd strings: what an attacker's JSON can hold (see `deepJsonText` for depth). */
export const anyJson = (): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
    { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', '', '\u0000', '%ZZ') },
  );

/**
 * Whether `value` holds a `__proto__` key at any depth (JSON.parse makes it an own property): the
 * MessagePack and CBOR decoders refuse the key, and end the session (docs/wamp.md, "CBOR").
 */
export function hasProtoKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasProtoKey);
  if (value === null || typeof value !== 'object') return false;
  return Object.hasOwn(value, '__proto__') || Object.values(value).some(hasProtoKey);
}

/**
 * JSON text of an array or object nested `depth` levels deep around `inner`. Built as text: past a few
 * thousand levels `JSON.stringify` itself overflows the stack, while `JSON.parse` (what a server
 * runs on its input) does not.
 */
export function nestedJsonText(depth: number, kind: 'array' | 'object' = 'array', inner = '1'): string {
  return kind === 'array'
    ? '['.repeat(depth) + inner + ']'.repeat(depth)
    : '{"a":'.repeat(depth) + inner + '}'.repeat(depth);
}

/** Nesting from past msgpack's limit (100) to far past any recursive encoder's stack. */
export const deepJsonText = (): fc.Arbitrary<string> =>
  fc
    .tuple(fc.integer({ min: 90, max: 30_000 }), fc.constantFrom('array' as const, 'object' as const))
    .map(([depth, kind]) => nestedJsonText(depth, kind));
