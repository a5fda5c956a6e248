import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { appSchema } from '../../../../src/config/schema.js';
import { HttpError, HttpErrors, httpError } from '../../../../src/http/errors.js';
import { CloseCode, ErrorCode } from '../../../../src/protocol/pusher/close-codes.js';
import { decodeClientMessage } from '../../../../src/protocol/pusher/codec.js';
import {
  PusherError,
  PusherErrors,
  pusherError,
  subscriptionError,
} from '../../../../src/protocol/pusher/errors.js';
import { PusherApiErrors, pusherApiError } from '../../../../src/protocol/pusher/http-api/errors.js';
import { verifyRequest } from '../../../../src/protocol/pusher/http-api/verify.js';
import { checkSignin } from '../../../../src/protocol/pusher/signin.js';

const SRC = new URL('../../../../../src/', import.meta.url).pathname;

/** Every TypeScript source under src/, as [path relative to src/, text]. */
function sources(dir = SRC): [string, string][] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e): [string, string][] => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [[path.slice(SRC.length), readFileSync(path, 'utf8')]] : [];
  });
}

/** Each catalog, and the functions that make its errors (a file using an entry calls one of them). */
const CATALOGS = [
  {
    file: 'protocol/pusher/errors.ts',
    prefix: 'ERR_PUSHER_',
    names: Object.keys(PusherErrors),
    makers: ['pusherError(', 'subscriptionError('],
  },
  { file: 'http/errors.ts', prefix: 'ERR_HTTP_', names: Object.keys(HttpErrors), makers: ['httpError('] },
  {
    file: 'protocol/pusher/http-api/errors.ts',
    prefix: 'ERR_PUSHER_API_',
    names: Object.keys(PusherApiErrors),
    makers: ['pusherApiError('],
  },
];

/** Arguments of the right number for a message builder; the text only has to be made. */
const someArgs = (builder: (...args: never[]) => string) => Array.from({ length: builder.length }, () => 'x');

describe('error catalogs', () => {
  test('codes are unique across the Pusher, Pusher HTTP API and HTTP catalogs', () => {
    const codes = CATALOGS.flatMap(({ prefix, names }) => names.map((n) => prefix + n));
    const repeated = codes.filter((code, i) => codes.indexOf(code) !== i);
    assert.deepEqual(repeated, []);
    assert.ok(codes.length > 80, `${codes.length} codes`);
  });

  test('every catalog entry is used outside its catalog', () => {
    const files = sources();
    const unused = CATALOGS.flatMap(({ file, prefix, names, makers }) => {
      const users = files.filter(([path, text]) => path !== file && makers.some((m) => text.includes(m)));
      return names
        .filter((name) => !users.some(([, text]) => text.includes(`'${name}'`)))
        .map((name) => prefix + name);
    });
    assert.deepEqual(unused, []);
  });

  test('pusher:error and pusher:subscription_error frames are made only by the codec', () => {
    // cli/doctor is a client: it reads these frames, it does not make them.
    const makers = sources()
      .filter(
        ([path, text]) => !path.startsWith('cli/doctor/') && /'pusher:(error|subscription_error)'/.test(text),
      )
      .map(([path]) => path);
    assert.deepEqual(makers, ['protocol/pusher/codec.ts']);
  });

  test('no catalog message is rewritten with .replace in the Pusher protocol', () => {
    const rewriting = sources()
      .filter(([path, text]) => path.startsWith('protocol/pusher/') && /\.replace\(/.test(text))
      .map(([path]) => path);
    assert.deepEqual(rewriting, []);
  });

  test('Pusher codes are documented close or error codes, in the band their behaviour belongs to', () => {
    const documented = new Set<number>([...Object.values(CloseCode), ...Object.values(ErrorCode)]);
    let subscriptionRefusals = 0;
    for (const [name, entry] of Object.entries(PusherErrors)) {
      const { code, closes } = entry;
      if (code !== null) assert.ok(documented.has(code), `${name}: ${code} is in close-codes.ts`);
      if (closes) {
        assert.ok(code !== null && code >= 4000 && code <= 4299, `${name} closes with a 4000–4299 code`);
      } else {
        // Keeps the connection: no code, a 4300–4399 code, or the sign-in's 4009 (see errors.ts).
        const keeps = code === null || (code >= 4300 && code <= 4399) || code === CloseCode.UNAUTHORIZED;
        assert.ok(keeps, `${name}: ${code} keeps the connection open`);
      }
      const refusal = entry.subscription;
      if (refusal) {
        subscriptionRefusals++;
        assert.ok(!closes, `${name}: a subscription refusal keeps the connection`);
        assert.ok(refusal.status >= 400 && refusal.status <= 599, `${name}: ${refusal.status}`);
      }
      const message = (entry.message as (...args: never[]) => string)(
        ...(someArgs(entry.message) as never[]),
      );
      assert.ok(message.length > 0, `${name} has a message`);
    }
    assert.ok(subscriptionRefusals >= 15, `${subscriptionRefusals} subscription refusals`);
  });

  test('HTTP entries have an error status and a message', () => {
    for (const [name, entry] of [...Object.entries(HttpErrors), ...Object.entries(PusherApiErrors)]) {
      assert.ok(entry.status >= 400 && entry.status <= 599, `${name}: ${entry.status}`);
      const message = (entry.message as (...args: never[]) => string)(
        ...(someArgs(entry.message) as never[]),
      );
      assert.ok(message.length > 0, `${name} has a message`);
    }
  });
});

describe('typed errors', () => {
  test('a Pusher refusal carries its stable code, wire code and message', () => {
    const err = pusherError('WATCHLIST_LIMIT', 100);
    assert.ok(err instanceof PusherError);
    assert.equal(err.code, 'ERR_PUSHER_WATCHLIST_LIMIT');
    assert.equal(err.wireCode, 4302);
    assert.equal(err.message, 'Watchlist limit exceeded. Only the first 100 user IDs are accepted.');
    const refused = subscriptionError('SUBSCRIPTION_LIMIT', 'private-a', 3);
    assert.equal(refused.channel, 'private-a');
    assert.deepEqual(refused.entry.subscription, { type: 'LimitReached', status: 429 });
    assert.equal(refused.entry.limit, 'subscriptions_per_connection');
  });

  test('the codec refuses a frame with the catalog entry', () => {
    const decoded = decodeClientMessage('{');
    assert.equal(decoded.ok, false);
    assert.equal(!decoded.ok && decoded.refusal.code, 'ERR_PUSHER_MESSAGE_NOT_JSON');
    assert.equal(!decoded.ok && decoded.error, 'Invalid JSON');
  });

  test('a sign-in with a wrong key is refused in sign-in words, code 4009', () => {
    const app = appSchema.parse({ id: '1', key: 'key', secret: 'secret' });
    const check = checkSignin(app, '1.1', { auth: 'other:abc', user_data: '{"id":"1"}' }, undefined);
    assert.ok(check instanceof PusherError);
    assert.equal(check.code, 'ERR_PUSHER_SIGNIN_AUTH_KEY_INVALID');
    assert.equal(check.message, "Invalid key in signin auth data: 'other'");
    assert.equal(check.wireCode, 4009);
    assert.equal(check.entry.closes, false);
  });

  test('HTTP errors carry their own code and status', () => {
    const err = httpError('BODY_TOO_LARGE', 10);
    assert.ok(err instanceof HttpError);
    assert.deepEqual(
      [err.code, err.status, err.message],
      ['ERR_HTTP_BODY_TOO_LARGE', 413, 'Request body larger than 10 bytes'],
    );
    const api = pusherApiError('BATCH_TOO_LARGE', 11, 10);
    assert.deepEqual(
      [api.code, api.status, api.message],
      ['ERR_PUSHER_API_BATCH_TOO_LARGE', 400, 'Batch of 11 events is over the limit of 10'],
    );
  });

  test('an unsigned HTTP API request is refused with ERR_PUSHER_API_AUTH_PARAMS_MISSING', () => {
    const app = appSchema.parse({ id: '1', key: 'key', secret: 'secret' });
    assert.throws(
      () => verifyRequest(app, 'GET', '/apps/1/channels', {}, Buffer.alloc(0), 0, 600),
      (err: unknown) =>
        err instanceof HttpError && err.code === 'ERR_PUSHER_API_AUTH_PARAMS_MISSING' && err.status === 401,
    );
  });
});
