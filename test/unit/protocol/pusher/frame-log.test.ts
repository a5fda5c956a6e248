import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { REDACTED } from '../../../../src/log/frame-log.js';
import { pusherFrameReader } from '../../../../src/protocol/pusher/frame-log.js';

const request = { params: ['app-key'], query: new URLSearchParams(), protocol: '', headers: {} };
const reader = pusherFrameReader.open(request);
const incoming = (text: string) => reader.describe(text, 'in');

describe('pusherFrameReader', () => {
  test('the app key from the path; the socket id from connection_established', () => {
    assert.equal(reader.scope, 'app-key');
    assert.deepEqual(pusherFrameReader.fields, { id: 'socketId', scope: 'appKey' });
    const established = JSON.stringify({
      event: 'pusher:connection_established',
      data: JSON.stringify({ socket_id: '123.456', activity_timeout: 120 }),
    });
    assert.deepEqual(reader.describe(established, 'out'), { text: established, id: '123.456' });
    const event = '{"event":"x","channel":"c","data":"{}"}';
    assert.deepEqual(reader.describe(event, 'out'), { text: event });
  });

  test('the auth of pusher:subscribe and pusher:signin is redacted; channel_data and user_data stay', () => {
    const subscribe = incoming(
      JSON.stringify({
        event: 'pusher:subscribe',
        data: { channel: 'presence-room', auth: 'app-key:abc123def', channel_data: '{"user_id":"1"}' },
      }),
    );
    assert.deepEqual(JSON.parse(subscribe.text), {
      event: 'pusher:subscribe',
      data: { channel: 'presence-room', auth: REDACTED, channel_data: '{"user_id":"1"}' },
    });
    assert.deepEqual(subscribe.secrets, ['app-key:abc123def', 'abc123def']);
    const signin = incoming(
      JSON.stringify({ event: 'pusher:signin', data: { auth: 'app-key:fff000', user_data: '{"id":"u"}' } }),
    );
    assert.deepEqual(JSON.parse(signin.text).data, { auth: REDACTED, user_data: '{"id":"u"}' });
  });

  test('data given as a JSON string (older clients) is redacted inside; a string that holds no object is hidden', () => {
    const inString = incoming(
      JSON.stringify({
        event: 'pusher:subscribe',
        data: JSON.stringify({ channel: 'private-a', auth: 'k:sig1' }),
      }),
    );
    assert.deepEqual(JSON.parse(JSON.parse(inString.text).data), { channel: 'private-a', auth: REDACTED });
    const opaque = incoming(JSON.stringify({ event: 'pusher:subscribe', data: 'k:sig2 {' }));
    assert.equal(JSON.parse(opaque.text).data, REDACTED);
    const ping = incoming('{"event":"pusher:ping","data":""}');
    assert.equal(ping.text, '{"event":"pusher:ping","data":""}');
  });

  test('what is shown is what the server reads: escaped keys and duplicates hide nothing', () => {
    const escaped = incoming(
      '{"event":"pusher:subscribe","data":{"channel":"private-a","\\u0061uth":"k:sig3"}}',
    );
    assert.ok(!escaped.text.includes('sig3'), escaped.text);
    const duplicate = incoming('{"event":"pusher:subscribe","data":{"auth":"k:sig4","auth":"k:sig5"}}');
    assert.ok(!/sig4|sig5/.test(duplicate.text), duplicate.text);
    const twice = incoming('{"event":"client-x","event":"pusher:signin","data":{"auth":"k:sig6"}}');
    assert.ok(!twice.text.includes('sig6'), twice.text);
  });

  test('the resume tokens of herald:session and herald:resume are redacted; the counts stay', () => {
    const session = JSON.stringify({
      event: 'herald:session',
      data: JSON.stringify({ resume_token: 'Tok3n_secret', ttl: 120 }),
    });
    const out = reader.describe(session, 'out');
    assert.ok(!out.text.includes('Tok3n_secret'), out.text);
    assert.deepEqual(JSON.parse(JSON.parse(out.text).data), { resume_token: REDACTED, ttl: 120 });
    assert.deepEqual(out.secrets, ['Tok3n_secret']);
    const resume = incoming(
      JSON.stringify({ event: 'herald:resume', data: { token: 'Tok3n_secret', received: { a: 3 } } }),
    );
    assert.deepEqual(JSON.parse(resume.text).data, { token: REDACTED, received: { a: 3 } });
    const inString = incoming(JSON.stringify({ event: 'herald:resume', data: 'Tok3n_secret' }));
    assert.equal(JSON.parse(inString.text).data, REDACTED);
  });

  test("a client event's data is the application's and is shown as sent", () => {
    const text = JSON.stringify({ event: 'client-typing', channel: 'private-a', data: { auth: 'not ours' } });
    assert.equal(incoming(text).text, text);
  });

  test('frames that are not JSON, too deep or binary are shown by size only', () => {
    assert.deepEqual(incoming('{"event":"pusher:subscribe","data":{"auth":"k:sig7"'), {
      text: '(not JSON, 51 bytes, not shown)',
    });
    assert.match(incoming('['.repeat(100)).text, /^\(nested too deep, 100 bytes, not shown\)$/);
    assert.match(reader.describe(Buffer.from('k:sig8'), 'in').text, /^\(binary message, 6 bytes/);
  });
});
