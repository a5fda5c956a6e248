import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  api,
  assertError,
  okJson,
  published,
  sdkFailure,
  server,
  startApiServers,
  subscriber,
} from '../helpers/pusher-http-api.js';

/**
 * POST /batch_events (Pusher docs, HTTP API reference, "Events"): the size limit, info in request
 * order, and a batch refused whole when one event is invalid.
 */

startApiServers();

describe('POST /batch_events', () => {
  const event = (i: number) => ({ channel: 'batch-size', name: `e${i}`, data: String(i) });

  test('11 events → 400; 10 events → 200', async () => {
    const failure = await sdkFailure(
      server.sdk().triggerBatch(Array.from({ length: 11 }, (_, i) => event(i))),
    );
    assert.equal(failure.status, 400);
    assert.match(failure.error, /Batch of 11 events is over the limit of 10/);
    const response = await server.sdk().triggerBatch(Array.from({ length: 10 }, (_, i) => event(i)));
    assert.deepEqual(await okJson(response as unknown as Response), {});
  });

  test('with info, the batch array follows request order', async () => {
    await subscriber(['presence-batch'], { userId: 'u1' });
    await subscriber(['presence-batch', 'batch-pub'], { userId: 'u1' });
    const response = await server.sdk().triggerBatch([
      { channel: 'presence-batch', name: 'e', data: '1', info: 'user_count,subscription_count' },
      { channel: 'batch-pub', name: 'e', data: '2', info: 'subscription_count' },
      { channel: 'batch-pub', name: 'e', data: '3' },
      { channel: 'batch-empty', name: 'e', data: '4', info: 'subscription_count' },
      { channel: 'presence-batch', name: 'e', data: '5', info: 'user_count' },
    ]);
    assert.deepEqual(await okJson(response as unknown as Response), {
      batch: [
        { user_count: 1, subscription_count: 2 },
        { subscription_count: 1 },
        {},
        { subscription_count: 0 },
        { user_count: 1 },
      ],
    });
  });

  test('one invalid event refuses the whole batch and nothing is delivered', async () => {
    const { client } = await subscriber(['batch-atomic']);
    const tooBig = 'x'.repeat(10_241);
    await assertError(
      await api('POST', '/batch_events', {
        body: {
          batch: [
            { channel: 'batch-atomic', name: 'never', data: 'n' },
            { channel: 'batch-atomic', name: 'never', data: tooBig },
          ],
        },
      }),
      413,
      /^batch\[1\]\.data is 10241 bytes/,
    );
    await assertError(
      await api('POST', '/batch_events', {
        body: {
          batch: [
            { channel: 'batch-atomic', name: 'never', data: 'n' },
            { name: 'x', data: 'y' },
          ],
        },
      }),
      400,
      /^batch\[1\]\.channel is required$/,
    );
    await assertError(
      await api('POST', '/batch_events', { body: { batch: 'nope' } }),
      400,
      /"batch" must be an array/,
    );
    await api('POST', '/batch_events', {
      body: { batch: [{ channel: 'batch-atomic', name: 'after', data: 'a' }] },
    });
    assert.equal((await published(client, 'batch-atomic')).event, 'after');
  });
});
