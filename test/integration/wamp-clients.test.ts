import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { autobahn, closeAutobahn, openAutobahn } from '../helpers/autobahn.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { first, WampClients } from '../helpers/wamp-clients.js';
import { newWampy } from '../helpers/wampy.js';

describe('WAMP with autobahn-js and wampy', () => {
  let h: TestHerald;
  let url: string;
  let clients: WampClients;
  const joinAutobahn = (serialization: 'json' | 'msgpack') => clients.autobahn(serialization);
  const joinWampy = (serialization: 'json' | 'msgpack') => clients.wampy(serialization);

  before(async () => {
    h = await startHerald();
    url = `ws://127.0.0.1:${h.port}/ws`;
    clients = new WampClients(url);
  });
  after(async () => {
    await clients.close();
    await h.stop();
  });

  for (const serialization of ['json', 'msgpack'] as const) {
    test(`${serialization}: autobahn-js and wampy join, call each other, publish to each other, leave`, async () => {
      const ab = await joinAutobahn(serialization);
      const wp = await joinWampy(serialization);
      const add = `com.clients.${serialization}.add`;
      const mul = `com.clients.${serialization}.mul`;
      await ab.register(
        add,
        (args, kwargs) => (args[0] as number) + (args[1] as number) + ((kwargs.extra as number) ?? 0),
      );
      await wp.register(mul, async ({ argsList }) => ({
        argsList: [(argsList![0] as number) * (argsList![1] as number)],
      }));
      assert.deepEqual((await wp.call(add, { argsList: [2, 3], argsDict: { extra: 10 } })).argsList, [15]);
      assert.equal(await ab.call(mul, [6, 7]), 42);

      const topic = `com.clients.${serialization}.news`;
      const toAutobahn = first<[unknown[], Record<string, unknown>]>((cb) =>
        ab.subscribe(topic, (args, kwargs) => cb([args, kwargs])),
      );
      const toWampy = first<{ argsList?: unknown[]; argsDict?: Record<string, unknown> }>((cb) =>
        wp.subscribe(topic, (event) => cb(event)),
      );
      // Both subscriptions are in place once each client has had its SUBSCRIBED (wampy awaits it).
      await wp.subscribe(`${topic}.sync`, () => {});
      await ab.subscribe(`${topic}.sync`, () => {});
      const published = await wp.publish(topic, { argsList: ['from wampy'], argsDict: { n: 1 } });
      assert.ok(published.publicationId);
      assert.deepEqual(await within(toAutobahn, 2000, 'autobahn event'), [['from wampy'], { n: 1 }]);
      await ab.publish(topic, ['from autobahn'], {}, { acknowledge: true, exclude_me: false });
      const ev = await within(toWampy, 2000, 'wampy event');
      assert.deepEqual(ev.argsList, ['from autobahn']);
    });
  }

  test('autobahn-js progressive results to a wampy caller, and autobahn-js as caller', async () => {
    const callee = await joinAutobahn('json');
    const wp = await joinWampy('msgpack');
    await callee.register('com.clients.progress', (args, _kwargs, details) => {
      const progress = details.progress as ((args: unknown[]) => void) | undefined;
      for (let i = 1; i <= (args[0] as number); i++) progress?.([i]);
      return 'done';
    });
    const seen: unknown[] = [];
    const result = await wp.call(
      'com.clients.progress',
      {
        argsList: [3],
      },
      {
        progress_callback: (r: { argsList?: unknown[] }) => seen.push(r.argsList?.[0]),
      } as never,
    );
    assert.deepEqual(seen, [1, 2, 3]);
    assert.deepEqual(result.argsList, ['done']);

    const caller = await joinAutobahn('msgpack');
    // autobahn-js reports progressive results through the promise's third callback (when.js notify),
    // a single argument unwrapped.
    const progressed: unknown[] = [];
    const call = caller.call('com.clients.progress', [2], {}, { receive_progress: true }) as unknown as {
      then(ok: (v: unknown) => void, err: (e: unknown) => void, progress: (p: unknown) => void): void;
    };
    const final = await new Promise((resolve, reject) =>
      call.then(resolve, reject, (p) => progressed.push(p)),
    );
    assert.deepEqual([progressed, final], [[1, 2], 'done']);
  });

  test('autobahn-js callee errors reach a wampy caller; caller identification reaches the callee', async () => {
    const callee = await joinAutobahn('msgpack');
    let caller: unknown;
    await callee.register('com.clients.fail', (_args, _kwargs, details) => {
      caller = details.caller;
      throw new autobahn.Error('com.clients.failed', ['because'], { code: 7 });
    });
    const wp = await joinWampy('json');
    await assert.rejects(
      wp.call('com.clients.fail', undefined, { disclose_me: true }),
      (err: Error & { argsList?: unknown[]; argsDict?: unknown; errorUri?: string }) => {
        assert.equal(err.errorUri, 'com.clients.failed');
        assert.deepEqual([err.argsList, err.argsDict], [['because'], { code: 7 }]);
        return true;
      },
    );
    assert.equal(typeof caller, 'number');
  });

  test('autobahn-js cancel with {mode: "kill"} gets the callee answer; wampy cancel killnowait', async () => {
    const callee = await clients.raw();
    await callee.register('com.clients.slow');
    const ab = await joinAutobahn('json');
    const call = ab.call('com.clients.slow');
    const inv = await within(callee.next(68), 2000, 'INVOCATION');
    call.cancel?.({ mode: 'kill' });
    assert.deepEqual(await within(callee.next(69), 2000, 'INTERRUPT'), [69, inv[1], { mode: 'kill' }]);
    callee.send([8, 68, inv[1], {}, 'wamp.error.canceled']);
    await assert.rejects(call, (err: { error?: string }) => err.error === 'wamp.error.canceled');
    assert.ok(ab.isOpen, 'autobahn-js keeps its session');

    const wp = await joinWampy('json');
    const wcall = wp.call('com.clients.slow');
    const winv = await within(callee.next(68), 2000, 'INVOCATION');
    wp.cancel(wp.getOpStatus().reqId, { mode: 'killnowait' });
    await assert.rejects(wcall, (err: { errorUri?: string }) => err.errorUri === 'wamp.error.canceled');
    assert.deepEqual(await within(callee.next(69), 2000, 'INTERRUPT'), [69, winv[1], { mode: 'killnowait' }]);
  });

  test('wampy call timeout', async () => {
    const callee = await clients.raw();
    await callee.register('com.clients.never');
    const wp = await joinWampy('msgpack');
    const started = Date.now();
    await assert.rejects(
      wp.call('com.clients.never', undefined, { timeout: 150 }),
      (err: { errorUri?: string }) => err.errorUri === 'wamp.error.timeout',
    );
    assert.ok(Date.now() - started < 1500);
  });

  test('wampy and autobahn-js reconnect after the router closes with 1001 on stop', async () => {
    const other = await startHerald();
    const otherUrl = `ws://127.0.0.1:${other.port}/ws`;
    try {
      const lost = new Promise<{ reason: string; willRetry: unknown }>((resolve) => {
        const connection = new autobahn.Connection({
          url: otherUrl,
          realm: 'realm1',
          max_retries: 1,
          initial_retry_delay: 0.05,
        });
        connection.onopen = () => void other.stop();
        connection.onclose = (reason, details) => {
          resolve({ reason, willRetry: details.will_retry });
          return true;
        };
        connection.open();
      });
      // A clean close without GOODBYE: autobahn-js reports "closed" and retries (a GOODBYE would stop it).
      assert.deepEqual(await within(lost, 5000, 'autobahn-js onclose'), {
        reason: 'closed',
        willRetry: true,
      });
    } finally {
      await other.stop();
    }

    const again = await startHerald();
    try {
      const reconnecting = new Promise<void>((resolve) => {
        const w = newWampy(`ws://127.0.0.1:${again.port}/ws`, {
          autoReconnect: true,
          reconnectInterval: 50,
          maxRetries: 1,
          onReconnect: () => resolve(),
        });
        clients.track(w);
        void w.connect().then(() => again.stop());
      });
      await within(reconnecting, 5000, 'wampy onReconnect');
    } finally {
      await again.stop();
    }
  });

  test('autobahn-js leave: GOODBYE is answered and the connection closes cleanly', async () => {
    const { connection } = await openAutobahn({ url, realm: 'realm1' });
    assert.equal(await within(closeAutobahn(connection), 2000, 'close'), 'closed');
  });
});
