import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import PusherServer from 'pusher';
import { encodeWebhookBody } from '../../../src/webhooks/payload.js';
import { webhookHeaders, webhookSignature } from '../../../src/webhooks/signer.js';

// A webhook body as Pusher docs, Webhooks describe it, signed with the example secret of Pusher docs,
// Auth signatures.
const VECTOR = {
  key: '3d4f0d6a2c9f7f1e2a3b',
  secret: '7ad3773142a6692b25b8',
  body: '{"time_ms":1327078148132,"events":[{"name":"channel_occupied","channel":"test_channel"}]}',
  signature: '709fdb84c03664445f7698120b0edf0acc1ab1c8c6e93a0368c61841d6b998aa',
};

const lowerCased = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));

describe('webhook signing (Pusher docs, Webhooks)', () => {
  test('the vector: HMAC-SHA256 of the exact body, lowercase hex', () => {
    assert.equal(webhookSignature(VECTOR.secret, VECTOR.body), VECTOR.signature);
  });

  test('the body encoder produces the vector body byte for byte', () => {
    const body = encodeWebhookBody([
      { event: { name: 'channel_occupied', channel: 'test_channel' }, timeMs: 1327078148132 },
    ]);
    assert.equal(body, VECTOR.body);
  });

  test('time_ms is the earliest event time and events keep their order', () => {
    const body = JSON.parse(
      encodeWebhookBody([
        { event: { name: 'channel_vacated', channel: 'b' }, timeMs: 2000 },
        { event: { name: 'channel_occupied', channel: 'a' }, timeMs: 1000 },
      ]),
    ) as { time_ms: number; events: { channel: string }[] };
    assert.equal(body.time_ms, 1000);
    assert.deepEqual(
      body.events.map((e) => e.channel),
      ['b', 'a'],
    );
  });

  test('headers: exact content type, app key, signature of the body', () => {
    const headers = webhookHeaders(VECTOR, VECTOR.body);
    assert.deepEqual(lowerCased(headers), {
      'content-type': 'application/json',
      'x-pusher-key': VECTOR.key,
      'x-pusher-signature': VECTOR.signature,
    });
  });

  test("a webhook's own headers are added but cannot replace the verified ones", () => {
    const headers = lowerCased(
      webhookHeaders(VECTOR, VECTOR.body, {
        Authorization: 'Bearer t',
        'content-type': 'text/plain',
        'X-Pusher-Signature': 'forged',
        'x-pusher-key': 'other',
      }),
    );
    assert.equal(headers.authorization, 'Bearer t');
    assert.equal(headers['content-type'], 'application/json');
    assert.equal(headers['x-pusher-signature'], VECTOR.signature);
    assert.equal(headers['x-pusher-key'], VECTOR.key);
  });

  test('the pusher SDK accepts the signed request and rejects a changed body', () => {
    const sdk = new PusherServer({ appId: '1', key: VECTOR.key, secret: VECTOR.secret, host: '127.0.0.1' });
    const body = encodeWebhookBody([
      { event: { name: 'member_added', channel: 'presence-x', user_id: '7' }, timeMs: Date.now() },
    ]);
    const headers = lowerCased(webhookHeaders(VECTOR, body));
    const webhook = sdk.webhook({ headers, rawBody: body });
    assert.equal(webhook.isValid(), true);
    assert.deepEqual(webhook.getEvents(), [{ name: 'member_added', channel: 'presence-x', user_id: '7' }]);
    const tampered = body.replace('"7"', '"8"');
    assert.equal(sdk.webhook({ headers, rawBody: tampered }).isValid(), false);
    const expected = createHmac('sha256', VECTOR.secret).update(tampered).digest('hex');
    assert.notEqual(headers['x-pusher-signature'], expected);
  });
});
