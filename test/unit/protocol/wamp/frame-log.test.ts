import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encode } from '@msgpack/msgpack';
import { REDACTED } from '../../../../src/log/frame-log.js';
import { wampFrameReader } from '../../../../src/protocol/wamp/frame-log.js';

const open = (protocol: string) =>
  wampFrameReader.open({ params: [], query: new URLSearchParams(), protocol, headers: {} });

describe('wampFrameReader', () => {
  test('HELLO names the realm; authextra is redacted but for the public key', () => {
    const reader = open('wamp.2.json');
    assert.equal(reader.scope, undefined);
    const hello = reader.describe(
      JSON.stringify([
        1,
        'realm1',
        { roles: { caller: {} }, authmethods: ['cryptosign'], authextra: { pubkey: 'ab12', token: 'tok-1' } },
      ]),
      'in',
    );
    assert.equal(hello.scope, 'realm1');
    assert.deepEqual(JSON.parse(hello.text), [
      1,
      'realm1',
      { roles: { caller: {} }, authmethods: ['cryptosign'], authextra: { pubkey: 'ab12', token: REDACTED } },
    ]);
    assert.deepEqual(hello.secrets, ['tok-1']);
    const odd = reader.describe(JSON.stringify([1, 'realm1', { authextra: 'tok-2' }]), 'in');
    assert.deepEqual(JSON.parse(odd.text)[2], { authextra: REDACTED });
  });

  test("AUTHENTICATE's signature is redacted; WELCOME gives the session id", () => {
    const reader = open('wamp.2.json');
    const authenticate = reader.describe('[5, "joe-ticket", {}]', 'in');
    assert.deepEqual(JSON.parse(authenticate.text), [5, REDACTED, {}]);
    assert.deepEqual(authenticate.secrets, ['joe-ticket']);
    const welcome = reader.describe('[2,4242,{"authrole":"user"}]', 'out');
    assert.equal(welcome.id, '4242');
    assert.equal(welcome.text, '[2,4242,{"authrole":"user"}]');
  });

  test('MessagePack frames are shown as JSON, binary values as WAMP JSON writes them', () => {
    const reader = open('wamp.2.msgpack');
    const authenticate = reader.describe(Buffer.from(encode([5, 'cra-signature', {}])), 'in');
    assert.deepEqual(JSON.parse(authenticate.text), [5, REDACTED, {}]);
    const event = reader.describe(Buffer.from(encode([36, 1, 2, {}, [new Uint8Array([1, 2, 3])]])), 'out');
    assert.equal(event.text, '[36,1,2,{},["\\u0000AQID"]]');
  });

  test('a batch is shown as the list of its messages, each redacted', () => {
    const reader = open('wamp.2.json.batched');
    const batch = reader.describe('[5,"t-1",{}]\x1e[32,1,{},"com.x"]\x1e', 'in');
    assert.deepEqual(JSON.parse(batch.text), [
      [5, REDACTED, {}],
      [32, 1, {}, 'com.x'],
    ]);
  });

  test('what the serializer cannot read is shown by size only', () => {
    assert.deepEqual(open('wamp.2.json').describe('[5, "t-2"', 'in'), {
      text: '(not wamp.2.json, 9 bytes, not shown)',
    });
    assert.deepEqual(open('wamp.2.msgpack').describe('[5, "t-3"]', 'in'), {
      text: '(not wamp.2.msgpack, 10 bytes, not shown)',
    });
    const deep = `${'['.repeat(300)}5${']'.repeat(300)}`;
    assert.match(open('wamp.2.json').describe(`[16,1,{},"t",[${deep}]]`, 'in').text, /^\(nested too deep/);
  });
});
