import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connected, nextEvent } from '../helpers/herald.js';
import {
  api,
  assertError,
  GUARD_MS,
  okJson,
  parsedOrSame,
  published,
  server,
  startApiServers,
  subscriber,
} from '../helpers/pusher-http-api.js';
import { within } from '../helpers/raw-client.js';

/**
 * Publishing through the HTTP API (Pusher docs, HTTP API reference, "Events"): the pusher SDK's
 * trigger and triggerBatch, POST /events limits and validation, data delivered byte for byte, and
 * socket_id exclusion.
 */

startApiServers();

describe('the pusher SDK against the HTTP API', () => {
  test('trigger on one channel reaches pusher-js and answers 200 {}', async () => {
    const client = server.client();
    await within(connected(client), GUARD_MS, 'pusher-js connection');
    const channel = client.subscribe('sdk-one');
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
    const received = nextEvent<unknown>(channel, 'greeting');
    const response = await server.sdk().trigger('sdk-one', 'greeting', { n: 42, s: 'é' });
    assert.deepEqual(await okJson(response as unknown as Response), {});
    assert.deepEqual(await within(received, GUARD_MS, 'greeting'), { n: 42, s: 'é' });
  });

  test('trigger on several channels reaches each channel once; info gives counts per channel', async () => {
    const a = await subscriber(['multi-a']);
    const b = await subscriber(['multi-b']);
    const p = await subscriber(['presence-multi'], { userId: 'u1' });
    const response = await server
      .sdk()
      .trigger(['multi-a', 'multi-b', 'presence-multi', 'multi-a'], 'multi', 'payload', {
        info: 'subscription_count,user_count',
      });
    assert.deepEqual(await okJson(response as unknown as Response), {
      channels: {
        'multi-a': { subscription_count: 1 },
        'multi-b': { subscription_count: 1 },
        'presence-multi': { user_count: 1, subscription_count: 1 },
      },
    });
    for (const [{ client }, channel] of [
      [a, 'multi-a'],
      [b, 'multi-b'],
      [p, 'presence-multi'],
    ] as const) {
      assert.deepEqual(await published(client, channel), { event: 'multi', channel, data: 'payload' });
    }
    // A channel named twice still gets the event once: the next one is the next trigger.
    await server.sdk().trigger('multi-a', 'next', 'n');
    assert.equal((await published(a.client, 'multi-a')).event, 'next');
  });

  test('triggerBatch delivers every event, in order', async () => {
    const { client } = await subscriber(['sdk-batch']);
    const response = await server.sdk().triggerBatch([
      { channel: 'sdk-batch', name: 'b1', data: { i: 1 } },
      { channel: 'sdk-batch', name: 'b2', data: 'two' },
      { channel: 'sdk-batch', name: 'b3', data: '' },
    ]);
    assert.deepEqual(await okJson(response as unknown as Response), {});
    assert.deepEqual(await published(client, 'sdk-batch'), {
      event: 'b1',
      channel: 'sdk-batch',
      data: '{"i":1}',
    });
    assert.deepEqual(await published(client, 'sdk-batch'), {
      event: 'b2',
      channel: 'sdk-batch',
      data: 'two',
    });
    assert.deepEqual(await published(client, 'sdk-batch'), { event: 'b3', channel: 'sdk-batch', data: '' });
  });
});

describe('POST /events limits and validation', () => {
  test('101 channels → 400; 100 channels → 200', async () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `many-${i}`);
    await assertError(
      await api('POST', '/events', { body: { name: 'e', channels: names(101), data: 'x' } }),
      400,
      /101 channels is over the limit of 100/,
    );
    assert.deepEqual(
      await okJson(await api('POST', '/events', { body: { name: 'e', channels: names(100), data: 'x' } })),
      {},
    );
  });

  test('data of exactly 10240 bytes is delivered; one byte more → 413', async () => {
    const { client } = await subscriber(['big']);
    const exact = 'x'.repeat(10_240);
    assert.deepEqual(
      await okJson(await api('POST', '/events', { body: { name: 'big', channel: 'big', data: exact } })),
      {},
    );
    assert.equal((await published(client, 'big')).data, exact);

    await assertError(
      await api('POST', '/events', { body: { name: 'big', channel: 'big', data: `${exact}x` } }),
      413,
      /data is 10241 bytes, over the limit of 10240/,
    );
    // The limit counts UTF-8 bytes, not characters: 5121 × "é" is 10242 bytes.
    await assertError(
      await api('POST', '/events', { body: { name: 'big', channel: 'big', data: 'é'.repeat(5121) } }),
      413,
      /data is 10242 bytes/,
    );
    // Nothing refused was delivered: the next event is the next accepted one.
    await api('POST', '/events', { body: { name: 'after', channel: 'big', data: 'a' } });
    assert.equal((await published(client, 'big')).event, 'after');
  });

  test('missing or malformed fields → 400 naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ channels: ['v'], data: 'x' }, /^name must be a non-empty string$/],
      [{ name: '', channels: ['v'], data: 'x' }, /^name must be a non-empty string$/],
      [{ name: 'e'.repeat(201), channels: ['v'], data: 'x' }, /^name is longer than 200 characters$/],
      [{ name: 'e', channels: ['v'] }, /^data must be a string$/],
      [{ name: 'e', channels: ['v'], data: { a: 1 } }, /^data must be a string$/],
      [{ name: 'e', data: 'x' }, /^channels or channel is required$/],
      [{ name: 'e', channels: [], data: 'x' }, /^channels must not be empty$/],
      [{ name: 'e', channels: 'v', data: 'x' }, /^channels must be an array/],
      [{ name: 'e', channels: ['bad name!'], data: 'x' }, /^channels\[0\] "bad name!"/],
      [{ name: 'e', channels: ['v'], data: 'x', socket_id: 'abc' }, /^socket_id must look like/],
    ];
    for (const [body, message] of cases) {
      await assertError(await api('POST', '/events', { body }), 400, message);
    }
  });

  test('the single `channel` field works like a one-element `channels`', async () => {
    const { client } = await subscriber(['single']);
    assert.deepEqual(
      await okJson(await api('POST', '/events', { body: { name: 'one', channel: 'single', data: 'd' } })),
      {},
    );
    assert.deepEqual(await published(client, 'single'), { event: 'one', channel: 'single', data: 'd' });
  });
});

describe('event data and socket_id exclusion', () => {
  test('data strings reach pusher-js and raw clients byte-identical', async () => {
    const pjs = server.client();
    await within(connected(pjs), GUARD_MS, 'pusher-js connection');
    const channel = pjs.subscribe('bytes');
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
    const { client } = await subscriber(['bytes']);

    const samples = [
      'hello',
      '',
      '{"msg":"héllo \\"wörld\\" 🎉","n":1}',
      '{ "spaced" :  [1, 2.50] }',
      'not "json" \\ at all\n\u2028',
      '"a JSON string"',
    ];
    for (const data of samples) {
      const viaPusherJs = nextEvent<unknown>(channel, 'sample');
      const response = await server.sdk().trigger('bytes', 'sample', data);
      assert.deepEqual(await okJson(response as unknown as Response), {});
      assert.deepEqual(await published(client, 'bytes'), { event: 'sample', channel: 'bytes', data });
      // pusher-js parses data that is JSON and hands anything else over as the string it got.
      const expected = parsedOrSame(data);
      assert.deepEqual(await within(viaPusherJs, GUARD_MS, 'pusher-js event'), expected);
    }
  });

  test('socket_id excludes exactly that connection', async () => {
    const a = await subscriber(['excl']);
    const b = await subscriber(['excl']);
    const sdk = server.sdk();

    await sdk.trigger('excl', 'first', '1', { socket_id: a.socketId });
    assert.equal((await published(b.client, 'excl')).event, 'first');
    await sdk.trigger('excl', 'second', '2');
    assert.equal((await published(a.client, 'excl')).event, 'second');
    assert.equal((await published(b.client, 'excl')).event, 'second');

    // The same in a batch, excluding the other connection.
    await sdk.triggerBatch([{ channel: 'excl', name: 'third', data: '3', socket_id: b.socketId }]);
    assert.equal((await published(a.client, 'excl')).event, 'third');
    await sdk.trigger('excl', 'fourth', '4');
    assert.equal((await published(b.client, 'excl')).event, 'fourth');
    assert.equal((await published(a.client, 'excl')).event, 'fourth');
  });
});
