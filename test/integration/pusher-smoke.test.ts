import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connected, nextEvent, startHerald, type TestHerald } from '../helpers/herald.js';

let server: TestHerald;
before(async () => {
  server = await startHerald();
});
after(() => server.stop());

test('pusher-js receives an event triggered with the pusher SDK', async () => {
  const client = server.client();
  await connected(client);
  const channel = client.subscribe('smoke');
  await nextEvent(channel, 'pusher:subscription_succeeded');
  const received = nextEvent<{ n: number }>(channel, 'greeting');
  const response = await server.sdk().trigger('smoke', 'greeting', { n: 42 });
  assert.equal(response.status, 200);
  assert.deepEqual(await received, { n: 42 });
});
