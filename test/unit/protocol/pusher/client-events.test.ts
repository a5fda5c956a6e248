import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { appSchema } from '../../../../src/config/schema.js';
import { checkClientEvent } from '../../../../src/protocol/pusher/client-events.js';

const APP = appSchema.parse({ id: 'app-id', key: 'app-key', secret: 'app-secret', clientEvents: true });

/** Channels a connection has subscribed to; the value is its presence user id. */
const SUBSCRIBED = new Map<string, string | null>([
  ['public', null],
  ['cache-public', null],
  ['private-chat', null],
  ['private-cache-chat', null],
  ['private-encrypted-chat', null],
  ['private-encrypted-cache-chat', null],
  ['presence-room', '9'],
  ['presence-cache-room', '10'],
]);

function refusal(check: ReturnType<typeof checkClientEvent>): string {
  assert.equal(check.ok, false, 'expected the client event to be refused');
  return (check as { message: string }).message;
}

describe('checkClientEvent (Pusher docs, Events)', () => {
  test('private channel: the frame for others is rebuilt from event, channel and data, data kept as JSON', () => {
    const data = { a: 1, nested: { list: [1, 'two', null], flag: true } };
    const check = checkClientEvent(
      APP,
      { event: 'client-typing', channel: 'private-chat', data },
      SUBSCRIBED,
    );
    assert.deepEqual(check, {
      ok: true,
      channel: 'private-chat',
      text: '{"event":"client-typing","channel":"private-chat","data":{"a":1,"nested":{"list":[1,"two",null],"flag":true}}}',
    });
  });

  test('string and missing data are forwarded as JSON values, not re-encoded strings', () => {
    const text = checkClientEvent(
      APP,
      { event: 'client-x', channel: 'private-chat', data: 'hello' },
      SUBSCRIBED,
    );
    assert.deepEqual(JSON.parse((text as { text: string }).text).data, 'hello');
    const none = checkClientEvent(APP, { event: 'client-x', channel: 'private-chat' }, SUBSCRIBED);
    assert.equal(
      (none as { text: string }).text,
      '{"event":"client-x","channel":"private-chat","data":null}',
    );
  });

  test('presence channel: top-level user_id of the sender is added', () => {
    const check = checkClientEvent(
      APP,
      { event: 'client-wave', channel: 'presence-room', data: { hi: 1 } },
      SUBSCRIBED,
    );
    assert.ok(check.ok);
    assert.deepEqual(JSON.parse(check.text), {
      event: 'client-wave',
      channel: 'presence-room',
      data: { hi: 1 },
      user_id: '9',
    });
  });

  test('cache variants of private and presence channels accept client events', () => {
    const priv = checkClientEvent(
      APP,
      { event: 'client-a', channel: 'private-cache-chat', data: 1 },
      SUBSCRIBED,
    );
    assert.ok(priv.ok);
    assert.equal(priv.channel, 'private-cache-chat');
    const presence = checkClientEvent(
      APP,
      { event: 'client-a', channel: 'presence-cache-room', data: 1 },
      SUBSCRIBED,
    );
    assert.ok(presence.ok);
    assert.equal(JSON.parse(presence.text).user_id, '10');
  });

  test('public and encrypted channels are refused', () => {
    for (const channel of [
      'public',
      'cache-public',
      'private-encrypted-chat',
      'private-encrypted-cache-chat',
    ]) {
      const message = refusal(checkClientEvent(APP, { event: 'client-a', channel, data: {} }, SUBSCRIBED));
      assert.match(message, /only allowed on private and presence channels/, channel);
      assert.ok(message.includes(channel), `message names ${channel}`);
    }
  });

  test('a channel the connection has not subscribed to is refused', () => {
    const message = refusal(
      checkClientEvent(APP, { event: 'client-a', channel: 'private-other', data: {} }, SUBSCRIBED),
    );
    assert.match(message, /not subscribed to/);
  });

  test('a missing channel is refused', () => {
    assert.match(
      refusal(checkClientEvent(APP, { event: 'client-a', data: {} }, SUBSCRIBED)),
      /needs a channel/,
    );
  });

  test('an app with client events off refuses before looking at anything else', () => {
    const off = appSchema.parse({ id: 'a', key: 'k', secret: 's' });
    assert.equal(off.clientEvents, false, 'client events are off by default');
    const message = refusal(
      checkClientEvent(off, { event: 'client-a', channel: 'private-chat', data: {} }, SUBSCRIBED),
    );
    assert.match(message, /not enabled/);
  });

  test('data is limited to maxEventPayloadBytes of JSON, counted in bytes', () => {
    const app = { ...APP, maxEventPayloadBytes: 20 };
    // JSON of a string is the string plus two quotes; "é" is two bytes.
    const atLimit = checkClientEvent(
      app,
      { event: 'client-a', channel: 'private-chat', data: 'x'.repeat(18) },
      SUBSCRIBED,
    );
    assert.ok(atLimit.ok);
    const over = checkClientEvent(
      app,
      { event: 'client-a', channel: 'private-chat', data: 'x'.repeat(19) },
      SUBSCRIBED,
    );
    assert.match(refusal(over), /21 bytes, over the limit of 20/);
    const multibyte = checkClientEvent(
      app,
      { event: 'client-a', channel: 'private-chat', data: 'é'.repeat(10) },
      SUBSCRIBED,
    );
    assert.match(refusal(multibyte), /22 bytes/);
  });

  test('event names longer than maxEventNameLength are refused', () => {
    const app = { ...APP, maxEventNameLength: 10 };
    assert.ok(checkClientEvent(app, { event: 'client-abc', channel: 'private-chat' }, SUBSCRIBED).ok);
    const message = refusal(
      checkClientEvent(app, { event: 'client-abcd', channel: 'private-chat' }, SUBSCRIBED),
    );
    assert.match(message, /longer than 10/);
  });
});
