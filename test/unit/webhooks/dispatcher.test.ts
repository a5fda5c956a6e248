import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { WebhookDelivery } from '../../../src/core/webhook-outbox.js';
import { type DispatcherOptions, WebhookDispatcher } from '../../../src/webhooks/dispatcher.js';
import { MemoryWebhookQueue } from '../../../src/webhooks/queue.js';
import {
  httpPoster,
  type PostOutcome,
  type PostWebhook,
  retryDelayMs,
} from '../../../src/webhooks/sender.js';
import { within } from '../../helpers/raw-client.js';
import { WebhookReceiver } from '../../helpers/webhook-receiver.js';

const logger = pino({ level: 'silent' });
let ids = 0;

function delivery(fields: Partial<WebhookDelivery> = {}): WebhookDelivery {
  const id = `d${++ids}`;
  return {
    id,
    lane: 'a\n0\nhttp://r.test/',
    appId: 'a',
    url: 'http://r.test/',
    headers: {},
    body: JSON.stringify({ id }),
    channels: ['c'],
    events: 1,
    queuedAt: Date.now(),
    ...fields,
  };
}

function dispatcher(post: PostWebhook, options: Partial<DispatcherOptions> = {}, maxQueued = 100) {
  return new WebhookDispatcher({
    queue: new MemoryWebhookQueue({ maxQueued }),
    post,
    logger,
    timeoutMs: 4000,
    retryForMs: 60_000,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 4,
    concurrency: 4,
    ...options,
  });
}

/** A post function whose answers the test gives, one attempt at a time. */
function scripted() {
  const attempts: { delivery: WebhookDelivery; answer: (o: PostOutcome) => void; signal: AbortSignal }[] = [];
  let waiters: (() => void)[] = [];
  const post: PostWebhook = (d, _timeout, signal) =>
    new Promise((answer) => {
      attempts.push({ delivery: d, answer, signal });
      const w = waiters;
      waiters = [];
      for (const wake of w) wake();
    });
  const until = async (n: number) => {
    while (attempts.length < n) await new Promise<void>((r) => waiters.push(r));
    return attempts[n - 1]!;
  };
  return { post, attempts, until };
}

const OK: PostOutcome = { ok: true, status: 200 };
const FAIL: PostOutcome = { ok: false, status: 500, error: 'HTTP 500' };

describe('retryDelayMs', () => {
  test('doubles from the base, capped, drawn from the upper half of each step', () => {
    const low = [1, 2, 3, 4, 5, 6, 7].map((n) => retryDelayMs(n, 1000, 30_000, () => 0));
    const high = [1, 2, 3, 4, 5, 6, 7].map((n) => retryDelayMs(n, 1000, 30_000, () => 1));
    assert.deepEqual(low, [500, 1000, 2000, 4000, 8000, 15_000, 15_000]);
    assert.deepEqual(high, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    assert.equal(
      retryDelayMs(3, 1000, 30_000, () => 0.5),
      3000,
    );
    assert.equal(
      retryDelayMs(2000, 1000, 30_000, () => 1),
      30_000,
      'no overflow on long outages',
    );
  });
});

describe('WebhookDispatcher', () => {
  test('a failing delivery is retried until it succeeds, and delivered once', async () => {
    const s = scripted();
    const d = dispatcher(s.post);
    await d.enqueue(delivery());
    for (let n = 1; n <= 3; n++) (await within(s.until(n), 5000, `attempt ${n}`)).answer(FAIL);
    (await within(s.until(4), 5000, 'attempt 4')).answer(OK);
    assert.equal(await d.drain(5000), true);
    assert.equal(s.attempts.length, 4);
    assert.deepEqual(d.stats, { queued: 1, delivered: 1, failedAttempts: 3, dropped: 0, shed: 0 });
    await d.close();
  });

  test('retries end retryForMs after queueing: then the delivery is dropped and counted', async () => {
    const s = scripted();
    const d = dispatcher(s.post, { retryForMs: 10_000, retryBaseDelayMs: 1, retryMaxDelayMs: 1 });
    // Queued so long ago that any retry would start past the window (the first attempt is still made).
    await d.enqueue(delivery({ queuedAt: Date.now() - 10_000 }));
    (await within(s.until(1), 5000, 'attempt 1')).answer(FAIL);
    assert.equal(await d.drain(5000), true);
    assert.equal(s.attempts.length, 1);
    assert.deepEqual(d.stats, { queued: 1, delivered: 0, failedAttempts: 1, dropped: 1, shed: 0 });
    await d.close();
  });

  test('with retryForMs 0 nothing is retried', async () => {
    const s = scripted();
    const d = dispatcher(s.post, { retryForMs: 0 });
    await d.enqueue(delivery());
    (await within(s.until(1), 5000, 'attempt 1')).answer(FAIL);
    assert.equal(await d.drain(5000), true);
    assert.equal(d.stats.dropped, 1);
    await d.close();
  });

  test('a hanging lane does not hold up another lane or another channel of its own', async () => {
    const s = scripted();
    const d = dispatcher(s.post);
    await d.enqueue(delivery({ lane: 'dead', channels: ['x'] }));
    const hung = await within(s.until(1), 5000, 'the hanging attempt');
    await d.enqueue(delivery({ lane: 'live', channels: ['x'] }));
    await d.enqueue(delivery({ lane: 'dead', channels: ['y'] }));
    const second = await within(s.until(2), 5000, 'the other lane');
    const third = await within(s.until(3), 5000, 'the other channel');
    assert.equal(second.delivery.lane, 'live');
    assert.deepEqual(third.delivery.channels, ['y']);
    second.answer(OK);
    third.answer(OK);
    assert.equal(await d.drain(0), false, 'the hanging one is still in flight');
    hung.answer(OK);
    assert.equal(await d.drain(5000), true);
    assert.equal(d.stats.delivered, 3);
    await d.close();
  });

  test("a channel's later delivery waits for its earlier one, retries included", async () => {
    const s = scripted();
    const d = dispatcher(s.post);
    const first = delivery({ channels: ['c'] });
    const second = delivery({ channels: ['c', 'z'] });
    await d.enqueue(first);
    await d.enqueue(second);
    (await within(s.until(1), 5000, 'attempt 1')).answer(FAIL);
    const retry = await within(s.until(2), 5000, 'the retry');
    assert.equal(retry.delivery.id, first.id, 'the retry comes before the later delivery');
    retry.answer(OK);
    const next = await within(s.until(3), 5000, 'the later delivery');
    assert.equal(next.delivery.id, second.id);
    next.answer(OK);
    assert.equal(await d.drain(5000), true);
    await d.close();
  });

  test('deliveries of a lane start in order, at most `concurrency` at a time', async () => {
    const s = scripted();
    const d = dispatcher(s.post, { concurrency: 2 });
    const sent = [1, 2, 3].map((n) => delivery({ channels: [`c${n}`] }));
    for (const x of sent) await d.enqueue(x);
    await within(s.until(2), 5000, 'two attempts');
    assert.equal(s.attempts.length, 2, 'the third waits for a free slot');
    s.attempts[0]!.answer(OK);
    (await within(s.until(3), 5000, 'attempt 3')).answer(OK);
    s.attempts[1]!.answer(OK);
    assert.equal(await d.drain(5000), true);
    assert.deepEqual(
      s.attempts.map((a) => a.delivery.id),
      sent.map((x) => x.id),
    );
    await d.close();
  });

  test('a full lane sheds new deliveries and counts them; other lanes still accept', async () => {
    const s = scripted();
    const d = dispatcher(s.post, { concurrency: 1 }, 2);
    await d.enqueue(delivery({ lane: 'full', channels: ['a'] }));
    await d.enqueue(delivery({ lane: 'full', channels: ['b'] }));
    await d.enqueue(delivery({ lane: 'full', channels: ['c'] }));
    await d.enqueue(delivery({ lane: 'other' }));
    assert.equal(d.stats.shed, 1);
    assert.equal(d.stats.queued, 3);
    await within(s.until(2), 5000, 'both lanes');
    await d.close();
  });

  test('per app: deliveries, retries, and requests given up on while being delivered', async () => {
    const s = scripted();
    const d = dispatcher(s.post, { retryForMs: 10_000, retryMaxDelayMs: 1 });
    await d.enqueue(delivery({ appId: 'a', lane: 'a' }));
    for (let n = 1; n <= 2; n++) (await within(s.until(n), 5000, `attempt ${n}`)).answer(FAIL);
    (await within(s.until(3), 5000, 'attempt 3')).answer(OK);
    // Too old for any retry: given up on after its first attempt.
    await d.enqueue(delivery({ appId: 'b', lane: 'b', queuedAt: Date.now() - 10_000 }));
    (await within(s.until(4), 5000, 'attempt 4')).answer(FAIL);
    assert.equal(await d.drain(5000), true);
    assert.deepEqual(Object.fromEntries(d.appStats), {
      a: { delivered: 1, retries: 2, failures: 0 },
      b: { delivered: 0, retries: 0, failures: 1 },
    });

    // At shutdown the one in flight counts for its app; the one still queued only in `dropped`.
    const closing = dispatcher(s.post, { concurrency: 1 });
    await closing.enqueue(delivery({ appId: 'c', lane: 'c', channels: ['x'] }));
    await closing.enqueue(delivery({ appId: 'c', lane: 'c', channels: ['y'] }));
    const inFlight = await within(s.until(5), 5000, 'attempt 5');
    await closing.close();
    inFlight.answer({ ok: false, error: 'AbortError' });
    assert.equal(await closing.drain(5000), true);
    assert.equal(closing.stats.dropped, 2);
    assert.deepEqual(Object.fromEntries(closing.appStats), { c: { delivered: 0, retries: 0, failures: 1 } });
    await d.close();
  });

  test('close aborts what is in flight and counts every undelivered request as dropped', async () => {
    const s = scripted();
    const d = dispatcher(s.post, { concurrency: 1 });
    await d.enqueue(delivery({ channels: ['a'] }));
    await d.enqueue(delivery({ channels: ['b'] }));
    const inFlight = await within(s.until(1), 5000, 'attempt 1');
    const aborted = new Promise<void>((resolve) =>
      inFlight.signal.addEventListener('abort', () => resolve()),
    );
    await d.close();
    await within(aborted, 5000, 'the abort');
    inFlight.answer({ ok: false, error: 'AbortError' });
    assert.equal(await d.drain(5000), true);
    assert.equal(d.stats.dropped, 2);
    await d.enqueue(delivery());
    assert.equal(d.stats.shed, 1, 'nothing is accepted after close');
  });
});

describe('httpPoster', () => {
  const post = httpPoster(logger);
  const signal = new AbortController().signal;

  test('2xx is success; any other status fails with it', async () => {
    const receiver = await WebhookReceiver.start((n) => [204, 500, 302][n] ?? 200);
    try {
      const d = delivery({ url: receiver.url, headers: { 'Content-Type': 'application/json', 'X-A': 'b' } });
      assert.deepEqual(await post(d, 4000, signal), { ok: true, status: 204 });
      assert.deepEqual(await post(d, 4000, signal), { ok: false, status: 500, error: 'HTTP 500' });
      assert.deepEqual(await post(d, 4000, signal), { ok: false, status: 302, error: 'HTTP 302' });
      const got = receiver.requests[0]!;
      assert.equal(got.rawBody, d.body);
      assert.equal(got.headers['content-type'], 'application/json');
      assert.equal(got.headers['x-a'], 'b');
    } finally {
      await receiver.close();
    }
  });

  test('a receiver that does not answer in time fails with a timeout', async () => {
    const receiver = await WebhookReceiver.start(() => 'hang');
    try {
      const outcome = await within(post(delivery({ url: receiver.url }), 50, signal), 5000, 'the timeout');
      assert.deepEqual(outcome, { ok: false, error: 'TimeoutError' });
    } finally {
      await receiver.close();
    }
  });

  test('a refused connection fails with its code', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const outcome = await post(delivery({ url: `http://127.0.0.1:${port}/` }), 4000, signal);
    assert.deepEqual(outcome, { ok: false, error: 'ECONNREFUSED' });
  });
});
