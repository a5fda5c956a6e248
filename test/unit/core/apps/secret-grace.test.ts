import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { appSchema } from '../../../../src/config/schema.js';
import { secretsOf } from '../../../../src/core/apps/app.js';
import { HttpError } from '../../../../src/http/router.js';
import { signRequest } from '../../../../src/protocol/pusher/auth.js';
import { verifyRequest } from '../../../../src/protocol/pusher/http-api/verify.js';
import { checkSignin } from '../../../../src/protocol/pusher/signin.js';
import { checkSubscription } from '../../../../src/protocol/pusher/subscription.js';

const UNTIL = '2026-12-07T18:10:00.000Z';
const BEFORE = Date.parse(UNTIL) - 1000;
const AFTER = Date.parse(UNTIL) + 1000;
const ROTATED = appSchema.parse({
  id: '7',
  key: 'the-key',
  secret: 'new-secret',
  previousSecret: 'old-secret',
  previousSecretExpiresAt: UNTIL,
});
const SOCKET = '123.456';

const hmac = (secret: string, text: string) => createHmac('sha256', secret).update(text).digest('hex');

describe('secretsOf', () => {
  test('the previous secret counts until its expiry, not after, and not without one', () => {
    assert.deepEqual(secretsOf(ROTATED, BEFORE), ['new-secret', 'old-secret']);
    assert.deepEqual(secretsOf(ROTATED, AFTER), ['new-secret']);
    assert.deepEqual(secretsOf(ROTATED, Date.parse(UNTIL)), ['new-secret']);
    assert.deepEqual(secretsOf({ ...ROTATED, previousSecretExpiresAt: null }, BEFORE), ['new-secret']);
    assert.deepEqual(secretsOf({ ...ROTATED, previousSecret: null }, BEFORE), ['new-secret']);
  });

  test('an expiry with an offset is the same instant', () => {
    const app = { ...ROTATED, previousSecretExpiresAt: '2026-12-07T19:10:00+01:00' };
    assert.deepEqual(secretsOf(app, BEFORE), ['new-secret', 'old-secret']);
    assert.deepEqual(secretsOf(app, AFTER), ['new-secret']);
  });
});

describe('a rotated secret during and after its grace period', () => {
  /** Whether a request signed with `secret` passes `verifyRequest` at `now`. */
  const request = (secret: string, now: number) => {
    const path = '/apps/7/events';
    const body = '{"name":"e","channel":"c","data":"{}"}';
    const params = signRequest('POST', path, { key: 'the-key', secret }, body, {}, Math.floor(now / 1000));
    try {
      verifyRequest(ROTATED, 'POST', path, params, Buffer.from(body), Math.floor(now / 1000), 600);
      return true;
    } catch (err) {
      assert.ok(err instanceof HttpError);
      assert.equal(err.status, 401);
      return false;
    }
  };

  test('HTTP API requests', () => {
    assert.equal(request('new-secret', BEFORE), true);
    assert.equal(request('old-secret', BEFORE), true);
    assert.equal(request('new-secret', AFTER), true);
    assert.equal(request('old-secret', AFTER), false);
    assert.equal(request('other-secret', BEFORE), false);
  });

  test('private channel authorizations', () => {
    const subscribe = (secret: string, now: number) => {
      const auth = `the-key:${hmac(secret, `${SOCKET}:private-x`)}`;
      return checkSubscription(ROTATED, SOCKET, { channel: 'private-x', auth }, undefined, now).ok;
    };
    assert.equal(subscribe('old-secret', BEFORE), true);
    assert.equal(subscribe('old-secret', AFTER), false);
    assert.equal(subscribe('new-secret', AFTER), true);
  });

  test('user sign-ins', () => {
    const userData = '{"id":"u1"}';
    const signin = (secret: string, now: number) => {
      const auth = `the-key:${hmac(secret, `${SOCKET}::user::${userData}`)}`;
      return checkSignin(ROTATED, SOCKET, { auth, user_data: userData }, undefined, now).ok;
    };
    assert.equal(signin('old-secret', BEFORE), true);
    assert.equal(signin('old-secret', AFTER), false);
    assert.equal(signin('new-secret', AFTER), true);
  });
});
