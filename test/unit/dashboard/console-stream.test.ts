import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { DebugFeed } from '../../../src/core/debug-feed.js';
import { consoleStreamResult } from '../../../src/dashboard/console-stream.js';
import { Router } from '../../../src/http/router.js';
import { within } from '../../helpers/raw-client.js';
import { until } from '../../helpers/wait.js';

/** The console as Server-Sent Events through the router's streaming hook, on a real server read with fetch. */

const NS = 'pusher:app-1';

/** Reads an SSE body as it arrives: its `data:` items parsed and its comment lines. */
class SseReader {
  readonly items: unknown[] = [];
  readonly comments: string[] = [];
  #buffer = '';
  readonly done: Promise<void>;

  constructor(body: ReadableStream<Uint8Array>) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    this.done = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        this.#buffer += decoder.decode(value, { stream: true });
        let end = this.#buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = this.#buffer.slice(0, end);
          this.#buffer = this.#buffer.slice(end + 2);
          for (const line of block.split('\n')) {
            if (line.startsWith('data: ')) this.items.push(JSON.parse(line.slice(6)));
            else if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
            else throw new Error(`unexpected line ${JSON.stringify(line)}`);
          }
          end = this.#buffer.indexOf('\n\n');
        }
      }
    })();
  }
}

describe('the console stream', () => {
  const feed = new DebugFeed({ node: 'node-a', now: () => 42 });
  const router = new Router(pino({ level: 'silent' }), 1024);
  let server: Server;
  let base = '';

  before(async () => {
    router.add('GET', '/console/:id', (request) => {
      request.app = request.params[0]!;
      const endsIn = request.url.searchParams.get('endsInMs');
      return consoleStreamResult(feed, `pusher:${request.params[0]}`, {
        heartbeatMs: 20,
        watch: { maxQueued: 5, maxPerSecond: 100_000 },
        ...(endsIn === null ? {} : { endsInMs: Number(endsIn) }),
      });
    });
    server = createServer(router.listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('streams events as data lines, comments as heartbeats, and stops watching on close', async () => {
    const abort = new AbortController();
    const response = await fetch(`${base}/console/app-1`, { signal: abort.signal });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(response.headers.get('cache-control'), 'no-cache, no-transform');
    const sse = new SseReader(response.body!);
    await until(() => feed.watched(NS), 'the watcher');
    feed.report(NS, { type: 'subscribed', channel: 'a\nb', socketId: '1.2' });
    feed.report('pusher:other', { type: 'subscribed', channel: 'elsewhere' });
    feed.report(NS, { type: 'api_message', channel: 'a', event: 'e', data: { text: 'line\nbreak' } });
    await until(() => sse.items.length === 2, 'two events');
    assert.deepEqual(sse.items, [
      { type: 'subscribed', channel: 'a\nb', socketId: '1.2', time: 42, node: 'node-a' },
      {
        type: 'api_message',
        channel: 'a',
        event: 'e',
        data: '{"text":"line\\nbreak"}',
        time: 42,
        node: 'node-a',
      },
    ]);
    await until(() => sse.comments.includes('heartbeat'), 'a heartbeat');
    assert.equal(sse.comments[0], 'watching');
    const counted = [...router.counts.entries()].find((e) => e.route === 'GET /console/:id');
    assert.deepEqual([counted?.app, counted?.status], ['app-1', 200]);

    abort.abort();
    await sse.done;
    await until(() => !feed.watched(NS), 'the watcher closed with the response');
  });

  test('a burst past the queue bound arrives as the first events and a marker with the exact count', async () => {
    const abort = new AbortController();
    const response = await fetch(`${base}/console/app-2`, { signal: abort.signal });
    const sse = new SseReader(response.body!);
    const ns = 'pusher:app-2';
    await until(() => feed.watched(ns), 'the watcher');
    // One turn: the stream writes once the turn ends, so the queue (5) holds the first five.
    for (let i = 0; i < 12; i++) feed.report(ns, { type: 'client_event', event: `e${i}` });
    await until(() => sse.items.length === 5, 'the first five');
    feed.report(ns, { type: 'client_event', event: 'after' });
    await until(() => sse.items.length === 7, 'the marker and the next event');
    const names = sse.items.map((i) => (i as { event?: string; type: string }).event ?? i);
    assert.deepEqual(names, ['e0', 'e1', 'e2', 'e3', 'e4', { type: 'dropped', count: 7 }, 'after']);
    abort.abort();
    await sse.done;
    await until(() => !feed.watched(ns), 'the watcher closed');
  });

  test('a stream given an end ends then, by itself, and stops watching; one already past it at once', async () => {
    for (const [app, endsInMs] of [
      ['app-3', 100],
      ['app-4', -5],
    ] as const) {
      const response = await fetch(`${base}/console/${app}?endsInMs=${endsInMs}`);
      assert.equal(response.status, 200);
      const sse = new SseReader(response.body!);
      const ns = `pusher:${app}`;
      if (endsInMs > 0) {
        await until(() => feed.watched(ns), 'the watcher');
        feed.report(ns, { type: 'client_event', event: 'before the end' });
        await until(() => sse.items.length === 1, 'the event before the end');
      }
      await within(sse.done, 5000, `the stream of ${app} to end`);
      assert.equal(feed.watched(ns), false, 'nothing watches once the stream ended');
      feed.report(ns, { type: 'client_event', event: 'after the end' });
      assert.deepEqual(
        sse.items.map((i) => (i as { event?: string }).event),
        endsInMs > 0 ? ['before the end'] : [],
      );
    }
  });
});
