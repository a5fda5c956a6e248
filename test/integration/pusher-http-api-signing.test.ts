import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { signRequest } from '../../src/protocol/pusher/auth.js';
import { APP } from '../helpers/herald.js';
import {
  api,
  assertError,
  DOCS,
  DOCS_TIME,
  docs,
  okJson,
  published,
  sdkFailure,
  server,
  signedUrl,
  startApiServers,
  subscriber,
} from '../helpers/pusher-http-api.js';

/**
 * Signed requests (Pusher docs, HTTP API reference, "Generating authentication
 * signatures"): the documentation's worked
 * examples on a server whose clock reads their time, what a wrong signature, body_md5, timestamp or key
 * gets, and an unknown app id.
 */

startApiServers();

describe('signed requests, server clock at 1353088179', () => {
  const EVENTS_BODY = '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}';
  const EVENTS_MD5 = 'ec365a775a4cd0599faeb73354201b6f';
  const EVENTS_SIGNATURE = 'da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c';
  const eventsUrl = (md5: string | undefined, signature: string, timestamp = DOCS_TIME) =>
    `${docs.httpUrl}/apps/3/events?auth_key=${DOCS.key}&auth_timestamp=${timestamp}&auth_version=1.0` +
    `${md5 === undefined ? '' : `&body_md5=${md5}`}&auth_signature=${signature}`;
  const post = (url: string, body = EVENTS_BODY) =>
    fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

  test('the docs’ worked example (POST /events) is accepted, answers exactly {} and is delivered', async () => {
    const { client } = await subscriber(['project-3'], { target: docs, credentials: DOCS });
    const response = await post(eventsUrl(EVENTS_MD5, EVENTS_SIGNATURE));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.equal(await response.text(), '{}');
    assert.deepEqual(await published(client, 'project-3'), {
      event: 'foo',
      channel: 'project-3',
      data: '{"some":"data"}',
    });
  });

  test('a wrong signature → 401 naming the string to sign', async () => {
    const wrong = `${EVENTS_SIGNATURE.slice(0, -1)}d`;
    const error = await assertError(await post(eventsUrl(EVENTS_MD5, wrong)), 401, /^Invalid signature/);
    assert.ok(error.includes(wrong), error);
    assert.ok(
      error.includes(
        JSON.stringify(
          `POST\n/apps/3/events\nauth_key=${DOCS.key}&auth_timestamp=${DOCS_TIME}&auth_version=1.0&body_md5=${EVENTS_MD5}`,
        ),
      ),
      error,
    );
  });

  test('the right signature over another body → 401 (body_md5 mismatch)', async () => {
    const changed = EVENTS_BODY.replace('foo', 'bar');
    await assertError(
      await post(eventsUrl(EVENTS_MD5, EVENTS_SIGNATURE), changed),
      401,
      /body_md5 does not match the body/,
    );
  });

  test('a correctly signed but wrong body_md5 → 401', async () => {
    // With an empty body signRequest keeps the given body_md5 and signs it.
    const query = signRequest('POST', '/apps/3/events', DOCS, '', { body_md5: '0'.repeat(32) }, DOCS_TIME);
    const url = `${docs.httpUrl}/apps/3/events?${new URLSearchParams(query)}`;
    await assertError(await post(url), 401, /body_md5 does not match the body/);
  });

  test('a correctly signed request without body_md5 → 401', async () => {
    const query = signRequest('POST', '/apps/3/events', DOCS, '', {}, DOCS_TIME);
    assert.equal(query.body_md5, undefined);
    const url = `${docs.httpUrl}/apps/3/events?${new URLSearchParams(query)}`;
    await assertError(await post(url), 401, /body_md5 is required/);
  });

  test('a timestamp 601 s old → 401; 600 s old is accepted', async () => {
    const old = signedUrl('POST', '/events', {
      base: docs.httpUrl,
      credentials: DOCS,
      body: EVENTS_BODY,
      timestamp: DOCS_TIME - 601,
    });
    await assertError(
      await post(old),
      401,
      /^Timestamp expired: Given timestamp \(2012-11-16T17:39:38\.000Z\) not within 600s of server time \(2012-11-16T17:49:39\.000Z\)$/,
    );
    const limit = signedUrl('POST', '/events', {
      base: docs.httpUrl,
      credentials: DOCS,
      body: EVENTS_BODY,
      timestamp: DOCS_TIME - 600,
    });
    assert.deepEqual(await okJson(await post(limit)), {});
    // The SDK signs with the real clock, far from this server's.
    const failure = await sdkFailure(docs.sdk(DOCS).trigger('project-3', 'x', 'y'));
    assert.equal(failure.status, 401);
    assert.match(failure.error, /^Timestamp expired/);
  });

  test('a key of no app → 401', async () => {
    const url = signedUrl('POST', '/events', {
      base: docs.httpUrl,
      credentials: { ...DOCS, key: 'not-the-key' },
      body: EVENTS_BODY,
      timestamp: DOCS_TIME,
    });
    await assertError(await post(url), 401, /auth_key "not-the-key"/);
  });

  test('signed GET /channels and /channels/presence-foobar queries are accepted with "," percent-encoded or not', async () => {
    const { socketId } = await subscriber(['presence-foobar'], {
      target: docs,
      credentials: DOCS,
      userId: '10',
    });
    assert.match(socketId, /^\d+\.\d+$/);
    const auth = `auth_key=${DOCS.key}&auth_timestamp=${DOCS_TIME}&auth_version=1.0`;
    const presenceSignature =
      'auth_signature=377ee9260ea002a70c0d40cd887d55cb36db9f7f821297f5efacbcce66be356d';
    for (const info of ['user_count%2Csubscription_count', 'user_count,subscription_count']) {
      const url = `${docs.httpUrl}/apps/3/channels/presence-foobar?${auth}&info=${info}&${presenceSignature}`;
      assert.deepEqual(await okJson(await fetch(url)), {
        occupied: true,
        user_count: 1,
        subscription_count: 1,
      });
    }
    const listSignature = 'auth_signature=16819168891cb5dfd72b5c7a5d3d602605b26c6ba1930033b5e2eeeb65010291';
    const url = `${docs.httpUrl}/apps/3/channels?filter_by_prefix=presence-&info=user_count&${auth}&${listSignature}`;
    assert.deepEqual(await okJson(await fetch(url)), { channels: { 'presence-foobar': { user_count: 1 } } });
  });
});

describe('unknown app id', () => {
  const NOPE = { ...APP, id: 'no-such-app' };

  test('every endpoint answers 404', async () => {
    const requests: [string, 'GET' | 'POST', unknown][] = [
      ['/events', 'POST', { name: 'e', channel: 'c', data: 'd' }],
      ['/batch_events', 'POST', { batch: [{ name: 'e', channel: 'c', data: 'd' }] }],
      ['/channels', 'GET', undefined],
      ['/channels/some-channel', 'GET', undefined],
      ['/channels/presence-some/users', 'GET', undefined],
    ];
    for (const [path, method, body] of requests) {
      await assertError(
        await api(method, path, { credentials: NOPE, body }),
        404,
        /^Unknown app id "no-such-app"$/,
      );
    }
    const failure = await sdkFailure(server.sdk(NOPE).trigger('c', 'e', 'd'));
    assert.equal(failure.status, 404);
  });

  test('the app is looked up before the signature is checked', async () => {
    await assertError(await fetch(`${server.httpUrl}/apps/no-such-app/channels`), 404, /Unknown app id/);
    await assertError(await fetch(`${server.httpUrl}/apps/${APP.id}/channels`), 401, /^Missing auth_key/);
  });
});
