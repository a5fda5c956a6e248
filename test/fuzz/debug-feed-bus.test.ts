import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  DEBUG_EVENT_TYPES,
  DEBUG_NUMBER_FIELDS,
  DEBUG_TEXT_FIELDS,
  type DebugItem,
} from '../../src/core/debug-feed.js';
import { FEED_CHANNEL, FEED_PREFIX, WATCH_OP } from '../../src/dashboard/cluster-feed.js';
import { brokerSkip, deleteRedisPrefix, REDIS_URL, uniquePrefix } from '../helpers/brokers.js';
import { allTopic, BusClient, channelTopic, recordingLogger } from '../helpers/bus.js';
import { type Collected, collect } from '../helpers/debug-watch.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { until } from '../helpers/wait.js';
import { anyJson, fuzz, Observer } from './harness.js';

/**
 * The debug feed's channel on the cluster bus as an attack surface: whoever can publish on the broker
 * sends forwarded events and dropped markers of every shape, and `debug.watch` announcements of every
 * shape. The node keeps serving, logs no error, and its watcher gets exactly the well-formed events,
 * reduced to their known fields, and the counts of the well-formed markers, in order.
 */

/** No app has this id here: the watcher gets nothing but what comes over the bus. */
const WATCHED = 'pusher:fuzz-feed-app';
const TYPES = [...DEBUG_EVENT_TYPES];

/** What a watcher must receive for a forwarded `text`, worked out apart from the code under test. */
function expected(text: string): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const e = v as Record<string, unknown>;
  if (e.type === 'dropped') {
    const { count } = e;
    const positive = typeof count === 'number' && Number.isSafeInteger(count) && count > 0;
    return positive ? { type: 'dropped', count } : undefined;
  }
  if (typeof e.type !== 'string' || !TYPES.includes(e.type)) return undefined;
  if (typeof e.node !== 'string' || e.node.length > 512) return undefined;
  if (typeof e.time !== 'number') return undefined;
  const out: Record<string, unknown> = { type: e.type, time: e.time, node: e.node };
  for (const f of DEBUG_TEXT_FIELDS) {
    if (e[f] === undefined) continue;
    if (typeof e[f] !== 'string') return undefined;
    out[f] = e[f];
  }
  for (const f of DEBUG_NUMBER_FIELDS) {
    if (e[f] === undefined) continue;
    if (typeof e[f] !== 'number') return undefined;
    out[f] = e[f];
  }
  if (e.truncated !== undefined) {
    if (e.truncated !== true) return undefined;
    out.truncated = true;
  }
  return out;
}

const text = fc.string({ maxLength: 40 });
const wellFormed = fc.record(
  {
    type: fc.constantFrom(...TYPES),
    time: fc.integer(),
    node: text,
    channel: text,
    event: text,
    socketId: text,
    data: fc.string({ unit: 'binary', maxLength: 200 }),
    code: fc.integer({ min: 1000, max: 4999 }),
    session: fc.integer({ min: 1, max: 2 ** 53 - 1 }),
    truncated: fc.constant(true),
    extra: anyJson(),
  },
  { requiredKeys: ['type', 'time', 'node'] },
);
const FIELDS = ['type', 'time', 'node', 'truncated', ...DEBUG_TEXT_FIELDS, ...DEBUG_NUMBER_FIELDS];
/** A dropped marker, with a count of any number and maybe the fields of an event. */
const marker = fc.record(
  {
    type: fc.constant('dropped'),
    count: fc.oneof(fc.integer({ min: 1 }), fc.double(), anyJson()),
    node: text,
    time: fc.integer(),
  },
  { requiredKeys: ['type'] },
);
/** A well-formed event with one field given any value, a marker, or any JSON at all, or any text. */
const eventText = fc.oneof(
  { weight: 3, arbitrary: wellFormed.map((e) => JSON.stringify(e)) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(wellFormed, fc.constantFrom(...FIELDS), anyJson())
      .map(([e, field, value]) => JSON.stringify({ ...e, [field]: value })),
  },
  { weight: 2, arbitrary: marker.map((m) => JSON.stringify(m)) },
  { weight: 2, arbitrary: anyJson().map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
);

type Case = { kind: 'event'; text: string } | { kind: 'watch'; payload: unknown };
const oneCase: fc.Arbitrary<Case> = fc.oneof(
  { weight: 4, arbitrary: eventText.map((t): Case => ({ kind: 'event', text: t })) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        anyJson(),
        fc.record({
          node: fc.oneof(text, anyJson()),
          namespaces: fc.oneof(fc.array(anyJson()), anyJson()),
          leaseMs: anyJson(),
        }),
      )
      .map((payload): Case => ({ kind: 'watch', payload })),
  },
);

/**
 * Markers in a row as one with their counts added: a watcher adds a marker to one still in its queue,
 * so how many it shows for markers in a row depends on when they were taken.
 */
function mergeMarkers(items: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const item of items) {
    const last = out.at(-1) as { type?: string; count?: number } | undefined;
    const { type, count } = item as { type?: string; count?: number };
    if (type === 'dropped' && last?.type === 'dropped')
      out[out.length - 1] = { ...last, count: last.count! + count! };
    else out.push(item);
  }
  return out;
}

describe('fuzz: the debug feed on the cluster bus over redis', { skip: await brokerSkip('redis') }, () => {
  const prefix = uniquePrefix('fuzz-debug-feed');
  const { logger, records } = recordingLogger();
  let server: TestHerald;
  let bus: BusClient;
  let observer: Observer;
  let seen: Collected;
  let sentinels = 0;
  const sender = randomUUID();

  const forward = (t: string) =>
    bus.publish(
      channelTopic(prefix, FEED_PREFIX + WATCHED, FEED_CHANNEL),
      JSON.stringify({ t: 'msg', n: sender, ns: FEED_PREFIX + WATCHED, ch: FEED_CHANNEL, d: t }),
    );

  /** Sends a well-formed event and waits for it: everything sent before it has been handled. */
  async function sentinel(): Promise<DebugItem> {
    const node = `sentinel-${++sentinels}`;
    await forward(JSON.stringify({ type: 'occupied', time: 0, node }));
    await until(() => seen.items.some((i) => (i as { node?: string }).node === node), node, 5000);
    return seen.items.pop()!;
  }

  before(async () => {
    bus = await BusClient.connect('redis', prefix);
    server = await startHerald({ adapter: { driver: 'redis', url: REDIS_URL, prefix } }, { logger });
    observer = await Observer.connect(server);
    await bus.nodeId();
    seen = collect(server.herald.debugFeed, WATCHED);
    // The watcher's interest is taken asynchronously: the first sentinel that arrives proves it.
    await until(() => server.herald.debugFeed.watched(WATCHED), 'the watcher');
    for (let attempt = 1; ; attempt++) {
      try {
        await sentinel();
        break;
      } catch (err) {
        // The interest was not in place yet: send again, a few times.
        if (attempt === 5) throw err;
      }
    }
    seen.items.length = 0;
  });

  after(async () => {
    seen?.watcher.close();
    observer?.close();
    await server?.stop();
    await bus?.close();
    await deleteRedisPrefix(prefix);
  });

  test('malformed events never reach the watcher, well-formed ones do, and the node keeps serving', async () => {
    await fuzz('debug feed bus', 150, [fc.array(oneCase, { minLength: 1, maxLength: 4 })], async (batch) => {
      const mark = records.length;
      const want: unknown[] = [];
      for (const c of batch) {
        if (c.kind === 'event') {
          await forward(c.text);
          const e = expected(c.text);
          if (e) want.push(e);
        } else {
          const cast = { t: 'cast', n: randomUUID(), op: WATCH_OP, p: c.payload };
          await bus.publish(allTopic(prefix), JSON.stringify(cast));
        }
      }
      await sentinel();
      assert.deepEqual(mergeMarkers(seen.items.splice(0)), mergeMarkers(want));
      await observer.check();
      const errors = records.slice(mark).filter((r) => r.level >= 50);
      assert.deepEqual(errors, [], 'a bus message made an error, not a warning');
    });
  });
});
