import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import PusherServer from 'pusher';
import { appSchema } from '../../../../src/config/schema.js';
import { HttpError } from '../../../../src/http/router.js';
import {
  authProblem,
  channelAuthString,
  hmacSha256Hex,
  httpSignatureString,
  md5Hex,
  signRequest,
  userAuthString,
} from '../../../../src/protocol/pusher/auth.js';
import {
  decodeClientMessage,
  encodeChannelEvent,
  objectData,
} from '../../../../src/protocol/pusher/codec.js';
import { queryParams, verifyRequest } from '../../../../src/protocol/pusher/http-api/verify.js';

// Credentials of the examples in Pusher docs, Auth signatures and HTTP API reference.
const KEY = '278d425bdf160c739803';
const SECRET = '7ad3773142a6692b25b8';
const SOCKET = '1234.1234';
const TIMESTAMP = 1353088179;
const APP = appSchema.parse({ id: '3', key: KEY, secret: SECRET });

/** Auth signatures with those credentials: [case, channel or user_data, channel_data, expected hex]. */
const CHANNEL_VECTORS: [string, string, string | undefined, string][] = [
  [
    'private',
    'private-foobar',
    undefined,
    '58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4',
  ],
  [
    'presence, docs input',
    'presence-foobar',
    '{"user_id":10,"user_info":{"name":"Mr. Channels"}}',
    '31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80',
  ],
  [
    'presence, "Mr. Pusher"',
    'presence-foobar',
    '{"user_id":10,"user_info":{"name":"Mr. Pusher"}}',
    'afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c',
  ],
  [
    'presence, string id',
    'presence-foobar',
    '{"user_id":"10","user_info":{"name":"Mr. Channels"}}',
    '4c6d8fc42a207ba96a0779844171b0bb819d96ffceef9609f5cce596ab17a800',
  ],
  [
    'presence, no channel_data',
    'presence-foobar',
    undefined,
    '71506e66e7fdca106571b8999a849ad34245bc653772e51e0026c1a2475b92ba',
  ],
  [
    'private-cache',
    'private-cache-foobar',
    undefined,
    '395f4a03f06e17b74af8d9c58386cf386e70176f58452420f042b6e1bddefa43',
  ],
  [
    'encrypted',
    'private-encrypted-foobar',
    undefined,
    'e6a18892d037c5d5e76a2265df4f086ffc38631605530dfd214aa5bff495f533',
  ],
];

const USER_VECTORS: [string, string, string][] = [
  [
    'user signin (docs)',
    '{"id":"12345"}',
    '4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba',
  ],
  [
    'user signin + extras',
    '{"id":"12345","user_info":{"name":"Mr. Channels"},"watchlist":["1","2"]}',
    'da7ec609913f96ba9fafa57cb02d14e71b68105e35b889fc50529bb912a468fd',
  ],
];

interface HttpVector {
  method: string;
  path: string;
  /** Non-auth parameters, decoded. */
  params: Record<string, string>;
  body: string;
  bodyMd5?: string;
  signed: string;
  signature: string;
}

/**
 * Signed requests at auth_timestamp 1353088179: the first is the worked example of Pusher docs, HTTP API
 * reference, "Authentication"; the others are signed the same way.
 */
const HTTP_VECTORS: HttpVector[] = [
  {
    method: 'POST',
    path: '/apps/3/events',
    params: {},
    body: '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}',
    bodyMd5: 'ec365a775a4cd0599faeb73354201b6f',
    signed:
      'POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f',
    signature: 'da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c',
  },
  {
    method: 'GET',
    path: '/apps/3/channels',
    params: { filter_by_prefix: 'presence-', info: 'user_count' },
    body: '',
    signed:
      'GET\n/apps/3/channels\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&filter_by_prefix=presence-&info=user_count',
    signature: '16819168891cb5dfd72b5c7a5d3d602605b26c6ba1930033b5e2eeeb65010291',
  },
  {
    method: 'GET',
    path: '/apps/3/channels/presence-foobar',
    params: { info: 'user_count,subscription_count' },
    body: '',
    signed:
      'GET\n/apps/3/channels/presence-foobar\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&info=user_count,subscription_count',
    signature: '377ee9260ea002a70c0d40cd887d55cb36db9f7f821297f5efacbcce66be356d',
  },
  {
    method: 'POST',
    path: '/apps/3/users/12345/terminate_connections',
    params: {},
    body: '{}',
    bodyMd5: '99914b932bd37a50b983c5e7c90ae93b',
    signed:
      'POST\n/apps/3/users/12345/terminate_connections\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=99914b932bd37a50b983c5e7c90ae93b',
    signature: '01fa634edeb0cae84115307cad5c23f65a46cd286461b1c89637a3b5871a8f0e',
  },
];

/** The full query of a vector as a client sends it (signature included). */
function vectorParams(v: HttpVector): Record<string, string> {
  return {
    ...v.params,
    auth_key: KEY,
    auth_timestamp: String(TIMESTAMP),
    auth_version: '1.0',
    ...(v.bodyMd5 ? { body_md5: v.bodyMd5 } : {}),
    auth_signature: v.signature,
  };
}

/** Runs `verifyRequest` and returns the HttpError it throws, or undefined when it accepts. */
function verifyProblem(
  method: string,
  path: string,
  params: Record<string, string>,
  body: string,
  now = TIMESTAMP,
): HttpError | undefined {
  try {
    verifyRequest(APP, method, path, params, Buffer.from(body), now, 600);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof HttpError, `expected an HttpError, got ${String(err)}`);
    return err;
  }
}

function assert401(problem: HttpError | undefined, message: RegExp): void {
  assert.ok(problem, 'the request should have been refused');
  assert.equal(problem.status, 401);
  assert.match(problem.message, message);
}

describe('channel and user signatures (Pusher docs, Auth signatures)', () => {
  for (const [name, channel, channelData, hex] of CHANNEL_VECTORS) {
    test(name, () => {
      const signed = channelAuthString(SOCKET, channel, channelData);
      assert.equal(
        signed,
        channelData === undefined ? `${SOCKET}:${channel}` : `${SOCKET}:${channel}:${channelData}`,
      );
      assert.equal(hmacSha256Hex(SECRET, signed), hex);
      assert.equal(authProblem(`${KEY}:${hex}`, KEY, SECRET, signed), undefined);
    });
  }

  for (const [name, userData, hex] of USER_VECTORS) {
    test(name, () => {
      const signed = userAuthString(SOCKET, userData);
      assert.equal(signed, `1234.1234::user::${userData}`);
      assert.equal(hmacSha256Hex(SECRET, signed), hex);
      assert.equal(authProblem(`${KEY}:${hex}`, KEY, SECRET, signed), undefined);
    });
  }

  test('the auth values the pusher SDK produces are accepted', () => {
    const sdk = new PusherServer({ appId: '3', key: KEY, secret: SECRET, cluster: 'mt1' });
    const priv = sdk.authorizeChannel(SOCKET, 'private-foobar');
    assert.equal(priv.auth, `${KEY}:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4`);
    assert.equal(authProblem(priv.auth, KEY, SECRET, channelAuthString(SOCKET, 'private-foobar')), undefined);

    const presence = sdk.authorizeChannel(SOCKET, 'presence-foobar', {
      user_id: 10 as unknown as string,
      user_info: { name: 'Mr. Channels' },
    });
    assert.equal(presence.channel_data, '{"user_id":10,"user_info":{"name":"Mr. Channels"}}');
    assert.equal(
      authProblem(
        presence.auth,
        KEY,
        SECRET,
        channelAuthString(SOCKET, 'presence-foobar', presence.channel_data),
      ),
      undefined,
    );
  });
});

describe('authProblem', () => {
  const signed = channelAuthString(SOCKET, 'private-foobar');
  const hex = '58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4';

  test('refuses a signature changed in one character', () => {
    const changed = `${hex.slice(0, -1)}${hex.endsWith('4') ? '5' : '4'}`;
    assert.match(authProblem(`${KEY}:${changed}`, KEY, SECRET, signed) ?? '', /^Invalid signature/);
  });

  test('refuses upper-case hex (the signature is lower-case hex)', () => {
    assert.match(authProblem(`${KEY}:${hex.toUpperCase()}`, KEY, SECRET, signed) ?? '', /^Invalid signature/);
  });

  test('refuses a signature for another socket or channel', () => {
    assert.match(
      authProblem(`${KEY}:${hex}`, KEY, SECRET, channelAuthString('1234.1235', 'private-foobar')) ?? '',
      /^Invalid signature/,
    );
    assert.match(
      authProblem(`${KEY}:${hex}`, KEY, SECRET, channelAuthString(SOCKET, 'private-foobaz')) ?? '',
      /^Invalid signature/,
    );
  });

  test('refuses a wrong key even with the right signature', () => {
    const problem = authProblem(`wrong-key:${hex}`, KEY, SECRET, signed);
    assert.equal(problem, "Invalid key in subscription auth data: 'wrong-key'");
  });

  test('refuses a value without a colon, an empty value and a non-string', () => {
    assert.match(authProblem(hex, KEY, SECRET, signed) ?? '', /^Invalid key in subscription auth data/);
    assert.match(authProblem('', KEY, SECRET, signed) ?? '', /missing/);
    assert.match(authProblem(undefined, KEY, SECRET, signed) ?? '', /missing/);
    assert.match(authProblem(42, KEY, SECRET, signed) ?? '', /missing/);
  });

  test('the secret matters', () => {
    assert.match(authProblem(`${KEY}:${hex}`, KEY, 'another-secret', signed) ?? '', /^Invalid signature/);
  });
});

describe('HTTP request signatures (Pusher docs, HTTP API reference)', () => {
  test('MD5 of the body', () => {
    assert.equal(md5Hex(HTTP_VECTORS[0]!.body), 'ec365a775a4cd0599faeb73354201b6f');
    assert.equal(md5Hex(Buffer.from('{}')), '99914b932bd37a50b983c5e7c90ae93b');
  });

  HTTP_VECTORS.forEach((v, i) => {
    test(`vector ${i + 1}: ${v.method} ${v.path}`, () => {
      const params = vectorParams(v);
      assert.equal(httpSignatureString(v.method, v.path, params), v.signed);
      assert.equal(hmacSha256Hex(SECRET, v.signed), v.signature);

      const made = signRequest(v.method, v.path, { key: KEY, secret: SECRET }, v.body, v.params, TIMESTAMP);
      assert.deepEqual(made, params);

      assert.equal(verifyProblem(v.method, v.path, params, v.body), undefined);
    });
  });

  test('the signature string upper-cases the method, lower-cases keys and sorts them by byte order', () => {
    const s = httpSignatureString('get', '/apps/3/channels', {
      Zeta: 'z',
      alpha: 'a',
      auth_signature: 'ignored',
      B: 'b',
      _x: '_',
    });
    assert.equal(s, 'GET\n/apps/3/channels\n_x=_&alpha=a&b=b&zeta=z');
  });

  test('values are signed decoded and unescaped', () => {
    const s = httpSignatureString('GET', '/apps/3/channels', { filter_by_prefix: 'a b&c=d,é' });
    assert.equal(s, 'GET\n/apps/3/channels\nfilter_by_prefix=a b&c=d,é');
  });

  test('signRequest adds no body_md5 for an empty body and uses the current time by default', () => {
    const before = Math.floor(Date.now() / 1000);
    const q = signRequest('GET', '/apps/3/channels', { key: KEY, secret: SECRET }, '');
    const after = Math.floor(Date.now() / 1000);
    assert.equal(q.body_md5, undefined);
    assert.ok(Number(q.auth_timestamp) >= before && Number(q.auth_timestamp) <= after);
    assert.equal(verifyProblem('GET', '/apps/3/channels', q, '', Number(q.auth_timestamp)), undefined);
  });
});

describe('verifyRequest', () => {
  const events = HTTP_VECTORS[0]!;
  const channel = HTTP_VECTORS[2]!;

  test('percent-encoded and raw query strings give the same parameters and are both accepted', () => {
    const auth = `auth_key=${KEY}&auth_timestamp=${TIMESTAMP}&auth_version=1.0&auth_signature=${channel.signature}`;
    const encoded = queryParams(
      new URL(`http://h${channel.path}?info=user_count%2Csubscription_count&${auth}`),
    );
    const raw = queryParams(new URL(`http://h${channel.path}?info=user_count,subscription_count&${auth}`));
    assert.deepEqual(encoded, raw);
    assert.equal(encoded.info, 'user_count,subscription_count');
    assert.equal(verifyProblem('GET', channel.path, encoded, ''), undefined);
    assert.equal(verifyProblem('GET', channel.path, raw, ''), undefined);
  });

  test('any query gives the parameters URLSearchParams reads from it, repeated keys joined', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        'auth_key',
        'a',
        'channels[]',
        '=',
        '&',
        '%',
        '%2',
        '%2C',
        '%zz',
        '+',
        '%C3%A9',
        '%FF',
        '',
      ),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const url = new URL(`http://h/apps/1/events?${pieces.join('')}`);
        const expected = new Map<string, string>();
        for (const [key, value] of url.searchParams) {
          const earlier = expected.get(key);
          expected.set(key, earlier === undefined ? value : `${earlier},${value}`);
        }
        assert.deepEqual(new Map(Object.entries(queryParams(url))), expected);
      }),
      { numRuns: 2000 },
    );
  });

  test('repeated keys are joined with "," before signing', () => {
    const path = '/apps/3/channels';
    const q = signRequest('GET', path, { key: KEY, secret: SECRET }, '', { 'channels[]': 'a,b' }, TIMESTAMP);
    const search = new URLSearchParams(q);
    search.delete('channels[]');
    search.append('channels[]', 'a');
    search.append('channels[]', 'b');
    const params = queryParams(new URL(`http://h${path}?${search}`));
    assert.equal(params['channels[]'], 'a,b');
    assert.equal(verifyProblem('GET', path, params, ''), undefined);
  });

  test('a wrong signature is refused with the string that should have been signed', () => {
    const params = { ...vectorParams(events), auth_signature: '0'.repeat(64) };
    const problem = verifyProblem('POST', events.path, params, events.body);
    assert401(problem, /^Invalid signature/);
    assert.ok(problem!.message.includes(JSON.stringify(events.signed)), problem!.message);
  });

  test('the signature covers method, path and every parameter', () => {
    const params = vectorParams(events);
    assert401(verifyProblem('PUT', events.path, params, events.body), /^Invalid signature/);
    assert401(verifyProblem('POST', '/apps/3/batch_events', params, events.body), /^Invalid signature/);
    assert401(
      verifyProblem('POST', events.path, { ...params, extra: 'x' }, events.body),
      /^Invalid signature/,
    );
  });

  test('a wrong or missing body_md5 is refused', () => {
    const params = vectorParams(events);
    assert401(
      verifyProblem('POST', events.path, params, `${events.body} `),
      /body_md5 does not match the body/,
    );
    // Signed correctly, but without body_md5.
    const unsigned = signRequest('POST', events.path, { key: KEY, secret: SECRET }, '', {}, TIMESTAMP);
    assert401(verifyProblem('POST', events.path, unsigned, events.body), /body_md5 is required/);
  });

  test('a wrong key is refused', () => {
    const params = signRequest(
      'POST',
      events.path,
      { key: 'other', secret: SECRET },
      events.body,
      {},
      TIMESTAMP,
    );
    assert401(verifyProblem('POST', events.path, params, events.body), /Unknown auth_key "other"/);
  });

  test('missing auth parameters are refused', () => {
    for (const name of ['auth_key', 'auth_timestamp', 'auth_version', 'auth_signature']) {
      const params = vectorParams(events);
      delete params[name];
      assert401(verifyProblem('POST', events.path, params, events.body), /^Missing auth_key/);
    }
  });

  test('timestamps are accepted within 600 s either way and refused past it', () => {
    const params = vectorParams(events);
    assert.equal(verifyProblem('POST', events.path, params, events.body, TIMESTAMP + 600), undefined);
    assert.equal(verifyProblem('POST', events.path, params, events.body, TIMESTAMP - 600), undefined);
    const late = verifyProblem('POST', events.path, params, events.body, TIMESTAMP + 601);
    assert401(late, /^Timestamp expired: Given timestamp \(2012-11-16T17:49:39\.000Z\) not within 600s/);
    assert401(verifyProblem('POST', events.path, params, events.body, TIMESTAMP - 601), /^Timestamp expired/);
  });

  test('a timestamp that is not whole seconds is refused', () => {
    for (const ts of ['abc', '1353088179.5', '-1353088179', '']) {
      const params = { ...vectorParams(events), auth_timestamp: ts };
      assert401(verifyProblem('POST', events.path, params, events.body), /^(Timestamp expired|Missing)/);
    }
  });
});

describe('codec', () => {
  test('decodeClientMessage accepts an envelope and keeps data as sent', () => {
    assert.deepEqual(decodeClientMessage('{"event":"pusher:ping","data":{}}'), {
      ok: true,
      message: { event: 'pusher:ping', channel: undefined, data: {} },
    });
    assert.deepEqual(decodeClientMessage('{"event":"pusher:ping"}'), {
      ok: true,
      message: { event: 'pusher:ping', channel: undefined, data: undefined },
    });
    assert.deepEqual(decodeClientMessage('{"event":"client-x","channel":"private-a","data":"{\\"a\\":1}"}'), {
      ok: true,
      message: { event: 'client-x', channel: 'private-a', data: '{"a":1}' },
    });
  });

  test('decodeClientMessage refuses what is not an envelope', () => {
    const cases: [string, RegExp][] = [
      ['not json', /^Invalid JSON$/],
      ['', /^Invalid JSON$/],
      ['{"event":"x"', /^Invalid JSON$/],
      ['null', /expected a JSON object/],
      ['[]', /expected a JSON object/],
      ['[{"event":"x"}]', /expected a JSON object/],
      ['42', /expected a JSON object/],
      ['"pusher:ping"', /expected a JSON object/],
      ['{}', /"event" must be a non-empty string/],
      ['{"event":""}', /"event" must be a non-empty string/],
      ['{"event":7}', /"event" must be a non-empty string/],
      ['{"event":"x","channel":5}', /"channel" must be a string/],
      ['{"event":"x","channel":null}', /"channel" must be a string/],
    ];
    for (const [text, error] of cases) {
      const result = decodeClientMessage(text);
      assert.equal(result.ok, false, text);
      assert.match((result as { error: string }).error, error, text);
    }
  });

  test('encodeChannelEvent embeds data verbatim as a JSON string', () => {
    assert.equal(
      encodeChannelEvent('my-event', 'my-channel', '{"some":"data"}'),
      '{"event":"my-event","channel":"my-channel","data":"{\\"some\\":\\"data\\"}"}',
    );
    for (const data of [
      'hello',
      '',
      '{"a": 1,  "b":[ ]}',
      '"quoted"',
      'line\nbreak\u2028',
      'héllo "wörld" 🎉 \\',
    ]) {
      const frame = JSON.parse(encodeChannelEvent('e', 'c', data)) as Record<string, unknown>;
      assert.deepEqual(frame, { event: 'e', channel: 'c', data });
    }
  });

  test('objectData accepts an object and a JSON string of one', () => {
    assert.deepEqual(objectData({ channel: 'a', auth: '' }), { channel: 'a', auth: '' });
    assert.deepEqual(objectData('{"channel":"a"}'), { channel: 'a' });
    assert.deepEqual(objectData({}), {});
  });

  test('objectData refuses anything else', () => {
    for (const value of [undefined, null, 42, true, [], ['a'], 'not json', '"a"', '[1]', 'null', '7']) {
      assert.equal(objectData(value), undefined, JSON.stringify(value));
    }
  });
});
