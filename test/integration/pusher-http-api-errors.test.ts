import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { describe, test } from 'node:test';
import {
  api,
  assertError,
  bodyText,
  GUARD_MS,
  OFF,
  okJson,
  PROTO,
  sdkFailure,
  server,
  signedUrl,
  startApiServers,
  subscriber,
  textOf,
} from '../helpers/pusher-http-api.js';
import { within } from '../helpers/raw-client.js';

/**
 * The HTTP API as an HTTP server, and hostile values in signed requests: keep-alive, bodies that are
 * not JSON objects or too large, unknown paths and methods, health, a disabled app, and fields whose type
 * or name is not what the protocol allows.
 */

startApiServers();

describe('HTTP behaviour', () => {
  test('keep-alive: several requests over one socket', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (method: 'GET' | 'POST', path: string, body?: unknown) =>
      new Promise<{ status: number; body: string; reused: boolean; port: number }>((resolve, reject) => {
        const text = bodyText(body);
        const req = httpRequest(
          signedUrl(method, path, { body }),
          { method, agent, headers: text ? { 'content-type': 'application/json' } : {} },
          (res) => {
            textOf(res).then(
              (body) =>
                resolve({
                  status: res.statusCode ?? 0,
                  body,
                  reused: req.reusedSocket,
                  port: req.socket?.localPort ?? -1,
                }),
              reject,
            );
          },
        );
        req.on('error', reject);
        req.end(text);
      });
    try {
      const results = [
        await send('GET', '/channels'),
        await send('POST', '/events', { name: 'k', channel: 'keep', data: 'd' }),
        await send('GET', '/channels/keep'),
        await send('POST', '/batch_events', { batch: [{ name: 'k', channel: 'keep', data: 'd' }] }),
      ];
      assert.deepEqual(
        results.map((r) => r.status),
        [200, 200, 200, 200],
        JSON.stringify(results),
      );
      assert.deepEqual(
        results.map((r) => r.reused),
        [false, true, true, true],
      );
      assert.equal(new Set(results.map((r) => r.port)).size, 1);
    } finally {
      agent.destroy();
    }
  });

  test('a body that is not a JSON object → 400', async () => {
    await assertError(await api('POST', '/events', { body: '{"name":' }), 400, /^Request body must be JSON$/);
    await assertError(
      await api('POST', '/events', { body: '[1]' }),
      400,
      /^Request body must be a JSON object$/,
    );
    await assertError(await api('POST', '/batch_events', { body: 'null' }), 400, /JSON object/);
  });

  test('a body streamed past the limit without Content-Length → 413 JSON, and the server serves on', async () => {
    const answer = await new Promise<{ status: number; body: string; connection: string | undefined }>(
      (resolve, reject) => {
        const req = httpRequest(signedUrl('POST', '/events'), { method: 'POST' }, (res) => {
          textOf(res).then(
            (body) => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }),
            reject,
          );
        });
        req.on('error', reject);
        // Chunked: 1 MiB and one byte more, in 64 KiB pieces.
        const piece = Buffer.alloc(64 * 1024, 'x');
        for (let i = 0; i < 16; i++) req.write(piece);
        req.end('x');
      },
    );
    assert.deepEqual(
      [answer.status, JSON.parse(answer.body), answer.connection],
      [413, { error: 'Request body larger than 1048576 bytes' }, 'close'],
    );
    assert.deepEqual(
      await okJson(await api('POST', '/events', { body: { name: 'n', channel: 'c', data: 'd' } })),
      {},
    );
  });

  test('unknown paths → 404 JSON', async () => {
    await assertError(await fetch(`${server.httpUrl}/nope`), 404, /^Not found: \/nope$/);
    await assertError(
      await api('GET', '/not-an-endpoint'),
      404,
      /^Not found: \/apps\/app-id\/not-an-endpoint$/,
    );
  });

  test('a wrong method → 405 JSON with Allow', async () => {
    const response = await api('GET', '/events');
    assert.equal(response.headers.get('allow'), 'POST');
    await assertError(response, 405, /^Method GET not allowed on \/apps\/app-id\/events$/);
    const channels = await fetch(signedUrl('DELETE', '/channels'), { method: 'DELETE' });
    assert.equal(channels.headers.get('allow'), 'GET');
    await assertError(channels, 405, /^Method DELETE not allowed/);
    await assertError(await fetch(`${server.httpUrl}/health`, { method: 'POST' }), 405, /POST not allowed/);
  });

  test('GET /health and GET /ready answer 200 while running', async () => {
    assert.deepEqual(await okJson(await fetch(`${server.httpUrl}/health`)), { status: 'ok' });
    assert.deepEqual(await okJson(await fetch(`${server.httpUrl}/ready`)), { status: 'ready' });
  });

  test('a disabled app → 403', async () => {
    await assertError(
      await api('POST', '/events', { credentials: OFF, body: { name: 'e', channel: 'c', data: 'd' } }),
      403,
      /^App off-id is disabled$/,
    );
    await assertError(await api('GET', '/channels', { credentials: OFF }), 403, /disabled/);
    const failure = await sdkFailure(server.sdk(OFF).trigger('c', 'e', 'd'));
    assert.equal(failure.status, 403);
  });
});

describe('hostile values in signed requests', () => {
  test('a channel that is not a string → 400 naming the field, in channels, channel and batch items', async () => {
    const notString = { toString: 1 };
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['/events', { name: 'e', channels: [notString], data: 'x' }, /^channels\[0\] must be a string$/],
      ['/events', { name: 'e', channels: ['ok', 5], data: 'x' }, /^channels\[1\] must be a string$/],
      ['/events', { name: 'e', channel: notString, data: 'x' }, /^channel must be a string$/],
      ['/events', { name: 'e', channel: null, data: 'x' }, /^channel must be a string$/],
      [
        '/batch_events',
        {
          batch: [
            { name: 'e', channel: 'ok', data: 'x' },
            { name: 'e', channel: notString, data: 'x' },
          ],
        },
        /^batch\[1\]\.channel must be a string$/,
      ],
    ];
    for (const [path, body, message] of cases) {
      await assertError(await api('POST', path, { body }), 400, message);
    }
  });

  test('a timestamp past the range of a Date → 401 quoting it', async () => {
    for (const timestamp of [99_999_999_999_999, 8_640_000_000_001]) {
      await assertError(
        await api('POST', '/events', { body: { name: 'e', channel: 'c', data: 'd' }, timestamp }),
        401,
        new RegExp(
          `^Timestamp expired: Given timestamp \\("${timestamp}"\\) not within 600s of server time \\(\\d{4}-`,
        ),
      );
    }
    // Digits past a double's range: Number() gives Infinity.
    const url = new URL(signedUrl('GET', '/channels'));
    url.searchParams.set('auth_timestamp', '9'.repeat(400));
    await assertError(await fetch(url), 401, /^Timestamp expired: Given timestamp \("9{100}"\)/);
  });

  test('events named pusher:… or pusher_internal:… → 400, and nothing reaches subscribers', async () => {
    const { client } = await subscriber(['presence-reserved'], { userId: 'u1' });
    const refusals: [string, Record<string, unknown>, RegExp][] = [
      [
        '/events',
        { name: 'pusher_internal:member_added', channel: 'presence-reserved', data: '{"user_id":"evil"}' },
        /^name may not start with "pusher_internal:", reserved by the protocol$/,
      ],
      [
        '/events',
        { name: 'pusher:subscription_succeeded', channels: ['presence-reserved'], data: '{}' },
        /^name may not start with "pusher:", reserved by the protocol$/,
      ],
      [
        '/batch_events',
        { batch: [{ name: 'pusher_internal:member_removed', channel: 'presence-reserved', data: '{}' }] },
        /^batch\[0\]\.name may not start with "pusher_internal:"/,
      ],
    ];
    for (const [path, body, message] of refusals) {
      await assertError(await api('POST', path, { body }), 400, message);
    }
    // Names that only look alike are ordinary events.
    await okJson(
      await api('POST', '/events', { body: { name: 'pusher-ish', channel: 'presence-reserved', data: 'd' } }),
    );
    const next = await within(
      client.next(
        (f) => f.channel === 'presence-reserved' && f.event !== 'pusher_internal:subscription_succeeded',
      ),
      GUARD_MS,
      'the next event on presence-reserved',
    );
    assert.equal(next.event, 'pusher-ish');
  });

  test('a channel named __proto__ is listed and counted like any other', async () => {
    await subscriber(['__proto__', 'constructor'], { credentials: PROTO });
    const listed = (await okJson(await api('GET', '/channels', { credentials: PROTO }))) as {
      channels: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(listed.channels).sort(), ['__proto__', 'constructor']);
    assert.deepEqual(Object.getOwnPropertyDescriptor(listed.channels, '__proto__')?.value, {});

    const published = (await okJson(
      await api('POST', '/events', {
        credentials: PROTO,
        body: { name: 'e', channels: ['__proto__', 'toString'], data: 'd', info: 'subscription_count' },
      }),
    )) as { channels: Record<string, unknown> };
    assert.deepEqual(Object.keys(published.channels).sort(), ['__proto__', 'toString']);
    assert.deepEqual(Object.getOwnPropertyDescriptor(published.channels, '__proto__')?.value, {
      subscription_count: 1,
    });
    assert.deepEqual(Object.getOwnPropertyDescriptor(published.channels, 'toString')?.value, {
      subscription_count: 0,
    });
  });
});
