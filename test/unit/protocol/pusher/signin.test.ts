import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { appSchema } from '../../../../src/config/schema.js';
import { checkSignin } from '../../../../src/protocol/pusher/signin.js';

// Credentials and user signatures of Pusher docs, Auth signatures.
const KEY = '278d425bdf160c739803';
const SECRET = '7ad3773142a6692b25b8';
const SOCKET = '1234.1234';
const APP = appSchema.parse({ id: '3', key: KEY, secret: SECRET });
const WATCHING = { ...APP, watchlistEvents: true };

const DOCS_USER = '{"id":"12345"}';
const DOCS_AUTH = `${KEY}:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba`;
const EXTRAS_USER = '{"id":"12345","user_info":{"name":"Mr. Channels"},"watchlist":["1","2"]}';
const EXTRAS_AUTH = `${KEY}:da7ec609913f96ba9fafa57cb02d14e71b68105e35b889fc50529bb912a468fd`;

/** What an app server's user authentication endpoint returns for any `user_data` string. */
function signed(userData: string, socketId = SOCKET, secret = SECRET) {
  const hex = createHmac('sha256', secret).update(`${socketId}::user::${userData}`).digest('hex');
  return { auth: `${KEY}:${hex}`, user_data: userData };
}

function refusal(check: ReturnType<typeof checkSignin>): string {
  assert.equal(check.ok, false, 'expected the signin to be refused');
  return (check as { message: string }).message;
}

describe('checkSignin (Pusher docs, User authentication)', () => {
  test('the docs vector signs in and echoes user_data exactly', () => {
    assert.deepEqual(checkSignin(APP, SOCKET, { auth: DOCS_AUTH, user_data: DOCS_USER }, undefined), {
      ok: true,
      user: { id: '12345', info: null },
      userData: DOCS_USER,
      watchlist: [],
      dropped: 0,
    });
  });

  test('the vector with user_info and watchlist: the watchlist counts only when the app enables it', () => {
    const data = { auth: EXTRAS_AUTH, user_data: EXTRAS_USER };
    const off = checkSignin(APP, SOCKET, data, undefined);
    assert.ok(off.ok);
    assert.deepEqual(off.user, { id: '12345', info: { name: 'Mr. Channels' } });
    assert.equal(off.userData, EXTRAS_USER);
    assert.deepEqual(off.watchlist, []);
    const on = checkSignin(WATCHING, SOCKET, data, undefined);
    assert.ok(on.ok);
    assert.deepEqual(on.watchlist, ['1', '2']);
  });

  test('data given as a JSON string is accepted (older clients)', () => {
    const check = checkSignin(
      APP,
      SOCKET,
      JSON.stringify({ auth: DOCS_AUTH, user_data: DOCS_USER }),
      undefined,
    );
    assert.ok(check.ok);
  });

  test('a one-character change of the signature, another socket id or the wrong key fails', () => {
    const last = DOCS_AUTH.at(-1) === 'a' ? 'b' : 'a';
    const changed = `${DOCS_AUTH.slice(0, -1)}${last}`;
    assert.match(
      refusal(checkSignin(APP, SOCKET, { auth: changed, user_data: DOCS_USER }, undefined)),
      /Invalid signature/,
    );
    assert.match(
      refusal(checkSignin(APP, '1234.1235', { auth: DOCS_AUTH, user_data: DOCS_USER }, undefined)),
      /Invalid signature/,
    );
    const otherKey = DOCS_AUTH.replace(KEY, 'not-the-key');
    assert.match(
      refusal(checkSignin(APP, SOCKET, { auth: otherKey, user_data: DOCS_USER }, undefined)),
      /Invalid key in signin auth data: 'not-the-key'/,
    );
    const wrongSecret = signed(DOCS_USER, SOCKET, 'not-the-secret');
    assert.match(refusal(checkSignin(APP, SOCKET, wrongSecret, undefined)), /Invalid signature/);
  });

  test('missing auth or user_data fails', () => {
    assert.match(refusal(checkSignin(APP, SOCKET, { user_data: DOCS_USER }, undefined)), /missing/);
    assert.match(refusal(checkSignin(APP, SOCKET, { auth: DOCS_AUTH }, undefined)), /user_data string/);
    assert.match(refusal(checkSignin(APP, SOCKET, undefined, undefined)), /user_data string/);
    assert.match(
      refusal(checkSignin(APP, SOCKET, { auth: DOCS_AUTH, user_data: { id: '1' } }, undefined)),
      /user_data string/,
    );
  });

  test('correctly signed user_data that is not a JSON object with a non-empty string id fails', () => {
    for (const userData of ['not json', '[]', '"12345"', '{}', '{"id":12345}', '{"id":""}', '{"name":"x"}']) {
      const message = refusal(checkSignin(APP, SOCKET, signed(userData), undefined));
      assert.match(message, /non-empty string id/, userData);
    }
  });

  test('a connection signed in as one user cannot sign in as another; the same id again is accepted', () => {
    const current = { id: '12345', info: null };
    const other = signed('{"id":"999"}');
    assert.match(refusal(checkSignin(APP, SOCKET, other, current)), /already signed in as user 12345/);
    const again = checkSignin(APP, SOCKET, signed('{"id":"12345","user_info":{"v":2}}'), current);
    assert.ok(again.ok);
    assert.deepEqual(again.user, { id: '12345', info: { v: 2 } });
  });

  test('the watchlist keeps the first maxWatchlistSize distinct ids and counts the dropped ones', () => {
    const ids = Array.from({ length: 101 }, (_, i) => `u${i}`);
    const check = checkSignin(
      WATCHING,
      SOCKET,
      signed(JSON.stringify({ id: 'w', watchlist: ids })),
      undefined,
    );
    assert.ok(check.ok);
    assert.equal(WATCHING.maxWatchlistSize, 100);
    assert.deepEqual(check.watchlist, ids.slice(0, 100));
    assert.equal(check.dropped, 1);

    const small = { ...WATCHING, maxWatchlistSize: 2 };
    const mixed = signed(JSON.stringify({ id: 'w', watchlist: ['a', 'a', 7, '', null, 'b', 'c'] }));
    const limited = checkSignin(small, SOCKET, mixed, undefined);
    assert.ok(limited.ok);
    assert.deepEqual(limited.watchlist, ['a', '7']);
    assert.equal(
      limited.dropped,
      2,
      '"b" and "c" are over the limit; duplicates and invalid ids are not counted',
    );
  });
});
