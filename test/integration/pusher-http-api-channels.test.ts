import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  api,
  assertError,
  LIST,
  okJson,
  sdkFailure,
  server,
  startApiServers,
  subscriber,
  unsubscribe,
} from '../helpers/pusher-http-api.js';

/**
 * Channel queries of the HTTP API (Pusher docs, HTTP API reference, "Channels"): GET /channels,
 * GET /channels/{name} and GET /channels/{name}/users.
 */

startApiServers();

describe('GET /channels', () => {
  test('lists only occupied channels, filters by prefix, and refuses user_count without a presence filter', async () => {
    const get = (params: Record<string, string> = {}) =>
      api('GET', '/channels', { credentials: LIST, params });
    assert.deepEqual(await okJson(await get()), { channels: {} });

    const one = await subscriber(['list-a', 'list-b'], { credentials: LIST });
    await subscriber(['presence-list', 'private-list'], { credentials: LIST, userId: 'u1' });
    await subscriber(['presence-list'], { credentials: LIST, userId: 'u2' });
    await unsubscribe(one.client, 'list-b', 'list-a');

    assert.deepEqual(await okJson(await get()), {
      channels: { 'list-a': {}, 'presence-list': {}, 'private-list': {} },
    });
    assert.deepEqual(await okJson(await get({ filter_by_prefix: 'list-' })), { channels: { 'list-a': {} } });
    assert.deepEqual(await okJson(await get({ filter_by_prefix: 'presence-', info: 'user_count' })), {
      channels: { 'presence-list': { user_count: 2 } },
    });
    assert.deepEqual(await okJson(await get({ filter_by_prefix: 'nothing-' })), { channels: {} });
    assert.deepEqual(await okJson(await get({ filter_by_prefix: 'list-', info: 'subscription_count' })), {
      channels: { 'list-a': { subscription_count: 1 } },
    });

    await assertError(await get({ info: 'user_count' }), 400, /requires filter_by_prefix/);
    await assertError(await get({ filter_by_prefix: 'list-', info: 'user_count' }), 400, /presence-/);
  });

  test('the same through the pusher SDK', async () => {
    const sdk = server.sdk(LIST);
    const response = await sdk.get({
      path: '/channels',
      params: { filter_by_prefix: 'presence-', info: 'user_count' },
    });
    assert.deepEqual(await okJson(response as unknown as Response), {
      channels: { 'presence-list': { user_count: 2 } },
    });
    const failure = await sdkFailure(sdk.get({ path: '/channels', params: { info: 'user_count' } }));
    assert.equal(failure.status, 400);
  });
});

describe('GET /channels/{name} and /users', () => {
  before(async () => {
    // User u1 on two connections, u2 on one; a public and a private channel with one subscriber.
    await subscriber(['presence-room', 'public-room', 'private-room'], { userId: 'u1' });
    await subscriber(['presence-room'], { userId: 'u1' });
    await subscriber(['presence-room'], { userId: 'u2' });
  });

  test('presence user_count counts distinct users, subscription_count connections', async () => {
    const response = await server.sdk().get({
      path: '/channels/presence-room',
      params: { info: 'user_count,subscription_count' },
    });
    assert.deepEqual(await okJson(response as unknown as Response), {
      occupied: true,
      user_count: 2,
      subscription_count: 3,
    });
    const plain = await server.sdk().get({ path: '/channels/presence-room' });
    assert.deepEqual(await okJson(plain as unknown as Response), { occupied: true });
  });

  test('public channels: subscription_count, occupied, and 400 for user_count', async () => {
    const response = await server.sdk().get({
      path: '/channels/public-room',
      params: { info: 'subscription_count' },
    });
    assert.deepEqual(await okJson(response as unknown as Response), {
      occupied: true,
      subscription_count: 1,
    });
    const empty = await server.sdk().get({ path: '/channels/nobody-here' });
    assert.deepEqual(await okJson(empty as unknown as Response), { occupied: false });
    const emptyCounts = await server.sdk().get({
      path: '/channels/nobody-here',
      params: { info: 'subscription_count' },
    });
    assert.deepEqual(await okJson(emptyCounts as unknown as Response), {
      occupied: false,
      subscription_count: 0,
    });
    const emptyPresence = await server.sdk().get({
      path: '/channels/presence-nobody',
      params: { info: 'user_count,subscription_count' },
    });
    assert.deepEqual(await okJson(emptyPresence as unknown as Response), {
      occupied: false,
      user_count: 0,
      subscription_count: 0,
    });

    const failure = await sdkFailure(
      server.sdk().get({ path: '/channels/public-room', params: { info: 'user_count' } }),
    );
    assert.equal(failure.status, 400);
    assert.match(failure.error, /user_count is only available for presence channels/);
  });

  test('/users lists each presence user once; other channel types → 400', async () => {
    const response = await server.sdk().get({ path: '/channels/presence-room/users' });
    const body = (await okJson(response as unknown as Response)) as { users: { id: string }[] };
    assert.deepEqual(Object.keys(body), ['users']);
    assert.deepEqual(
      [...body.users].sort((x, y) => x.id.localeCompare(y.id)),
      [{ id: 'u1' }, { id: 'u2' }],
    );
    const nobody = await server.sdk().get({ path: '/channels/presence-nobody/users' });
    assert.deepEqual(await okJson(nobody as unknown as Response), { users: [] });
    for (const channel of ['public-room', 'private-room']) {
      const failure = await sdkFailure(server.sdk().get({ path: `/channels/${channel}/users` }));
      assert.equal(failure.status, 400);
      assert.equal(failure.error, `${channel} is not a presence channel`);
    }
  });

  test('an invalid channel name → 400', async () => {
    await assertError(await api('GET', `/channels/${'x'.repeat(165)}`), 400, /^channel "x+"/);
  });
});
