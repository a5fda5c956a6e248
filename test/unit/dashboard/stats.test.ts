import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppTraffic } from '../../../src/core/traffic.js';
import {
  HISTORY_SECONDS,
  SampleRing,
  StatsSampler,
  sumSamples,
  type WireSample,
} from '../../../src/dashboard/stats.js';
import { RequestCounts } from '../../../src/http/request-counts.js';
import type { AppWebhookStats } from '../../../src/webhooks/dispatcher.js';

const T0 = 1_700_000_000_000;

describe('SampleRing', () => {
  test('keeps the last 900 seconds, oldest first, overwriting what is older', () => {
    const ring = new SampleRing();
    for (let s = 0; s < HISTORY_SECONDS + 100; s++) ring.add(T0 + s * 1000, [1, s, 0, 0, 0]);
    const samples = ring.samples(0);
    assert.equal(samples.length, HISTORY_SECONDS);
    assert.equal(samples[0]![0], T0 + 100 * 1000);
    assert.equal(samples.at(-1)![0], T0 + (HISTORY_SECONDS + 99) * 1000);
    assert.deepEqual(samples.at(-1), [T0 + (HISTORY_SECONDS + 99) * 1000, 1, HISTORY_SECONDS + 99, 0, 0, 0]);
    // Only the seconds after `since`.
    assert.equal(ring.samples(T0 + (HISTORY_SECONDS + 89) * 1000).length, 10);
  });

  test('a second recorded twice keeps the later gauge and adds up the rates', () => {
    const ring = new SampleRing();
    ring.add(T0, [3, 1, 2, 3, 4]);
    ring.add(T0, [5, 1, 1, 1, 1]);
    assert.deepEqual(ring.samples(0), [[T0, 5, 2, 3, 4, 5]]);
    assert.equal(ring.lastActive, T0);
  });
});

describe('StatsSampler', () => {
  test('samples connections and the growth of each counter per second; idle apps get no ring', () => {
    let now = T0;
    const traffic = new AppTraffic();
    const requests = new RequestCounts();
    const hooks = new Map<string, AppWebhookStats>([['a', { delivered: 0, retries: 0, failures: 0 }]]);
    const sampler = new StatsSampler({
      traffic,
      httpRequests: requests,
      appWebhooks: () => hooks,
      now: () => now,
    });
    const a = traffic.of('pusher', 'a');
    traffic.of('pusher', 'idle');
    traffic.of('wamp', 'realm1').connections = 4;
    a.connections = 2;
    a.messagesIn = 5;
    a.messagesOut = 7;
    requests.add('POST /apps/:id/events', 'a', 200);
    requests.add('POST /apps/:id/events', 'a', 200);
    requests.add('GET /metrics', '', 200);
    sampler.tick();
    now += 1000;
    a.messagesIn += 1;
    hooks.get('a')!.retries = 1;
    hooks.get('a')!.failures = 2;
    sampler.tick();
    assert.deepEqual(sampler.history('a'), [
      [T0, 2, 5, 7, 2, 0],
      [T0 + 1000, 2, 1, 0, 0, 3],
    ]);
    assert.deepEqual(sampler.history('idle'), []);
    assert.deepEqual(sampler.history('realm1'), [], 'WAMP realms are not apps');
    assert.equal(sampler.apps, 1);
  });

  test('an app met only by its HTTP API or its webhooks, its clients elsewhere, is sampled too', () => {
    let now = T0;
    const requests = new RequestCounts();
    const hooks = new Map<string, AppWebhookStats>();
    const sampler = new StatsSampler({
      traffic: new AppTraffic(),
      httpRequests: requests,
      appWebhooks: () => hooks,
      now: () => now,
    });
    requests.add('POST /apps/:id/events', 'api-only', 200);
    hooks.set('hooks-only', { delivered: 1, retries: 0, failures: 0 });
    sampler.tick();
    now += 1000;
    requests.add('POST /apps/:id/events', 'api-only', 200);
    requests.add('POST /apps/:id/batch_events', 'api-only', 400);
    hooks.get('hooks-only')!.retries = 2;
    sampler.tick();
    assert.deepEqual(sampler.history('api-only'), [
      [T0, 0, 0, 0, 1, 0],
      [T0 + 1000, 0, 0, 0, 2, 0],
    ]);
    // Its delivered webhook is no failure: the first second had nothing to show, the second has.
    assert.deepEqual(sampler.history('hooks-only'), [[T0 + 1000, 0, 0, 0, 0, 2]]);
    assert.equal(sampler.apps, 2);
  });

  test("an app's ring goes after 900 seconds without activity", () => {
    let now = T0;
    const traffic = new AppTraffic();
    const sampler = new StatsSampler({
      traffic,
      httpRequests: new RequestCounts(),
      appWebhooks: () => new Map(),
      now: () => now,
    });
    traffic.of('pusher', 'a').messagesIn = 1;
    sampler.tick();
    for (let s = 1; s < HISTORY_SECONDS; s++) {
      now += 1000;
      sampler.tick();
    }
    assert.equal(sampler.apps, 1);
    assert.equal(sampler.history('a').length, HISTORY_SECONDS);
    now += 1000;
    sampler.tick();
    assert.equal(sampler.apps, 0);
  });

  test('start and stop are idempotent', () => {
    const sampler = new StatsSampler({
      traffic: new AppTraffic(),
      httpRequests: new RequestCounts(),
      appWebhooks: () => new Map(),
    });
    sampler.start();
    sampler.start();
    sampler.stop();
    sampler.stop();
    assert.equal(sampler.apps, 0);
  });
});

describe('sumSamples', () => {
  const good: WireSample[] = [
    [T0, 1, 2, 3, 4, 5],
    [T0 + 1000, 1, 0, 0, 0, 0],
  ];

  test("adds the nodes' samples up by second, oldest first", () => {
    const other: WireSample[] = [
      [T0 + 2000, 2, 1, 1, 1, 1],
      [T0, 2, 1, 1, 1, 1],
    ];
    assert.deepEqual(sumSamples([good, other]), [
      { t: T0, connections: 3, messagesIn: 3, messagesOut: 4, apiRequests: 5, webhookFailures: 6 },
      { t: T0 + 1000, connections: 1, messagesIn: 0, messagesOut: 0, apiRequests: 0, webhookFailures: 0 },
      { t: T0 + 2000, connections: 2, messagesIn: 1, messagesOut: 1, apiRequests: 1, webhookFailures: 1 },
    ]);
  });

  test('leaves out malformed answers whole, and keeps the good ones', () => {
    const malformed: unknown[] = [
      null,
      'samples',
      { 0: [T0, 1, 1, 1, 1, 1] },
      [[T0, 1, 1, 1, 1]],
      [[T0, 1, 1, 1, 1, 1, 1]],
      [[T0, 1, '1', 1, 1, 1]],
      [[T0, 1, Number.NaN, 1, 1, 1]],
      [[T0, 1, Number.POSITIVE_INFINITY, 1, 1, 1]],
      [[T0, -1, 1, 1, 1, 1]],
      [[T0, 1e6, 1, 1, 1, 1], 'x'],
      [
        [T0, 1, 1, 1, 1, 1],
        [T0, 1, 1, 1, 1, 1],
      ],
      Array.from({ length: HISTORY_SECONDS + 1 }, (_, i) => [T0 + i * 1000, 1, 1, 1, 1, 1]),
    ];
    for (const bad of malformed) {
      assert.deepEqual(sumSamples([good, bad]), sumSamples([good]), JSON.stringify(bad)?.slice(0, 60));
    }
    assert.deepEqual(sumSamples([]), []);
  });
});
