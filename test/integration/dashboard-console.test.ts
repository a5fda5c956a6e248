import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DebugEvent } from '../../src/core/debug-feed.js';
import { dashboardOf, dashboardSession, openConsole } from '../helpers/dashboard.js';
import { is } from '../helpers/debug-watch.js';
import { APP, connected, startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';

/** The debug console's stream behind the dashboard's sign-in, read as an operator's browser reads it. */

const PASSWORD = 'console test password';

describe('the debug console stream', () => {
  let server: TestHerald;
  let cookie: string;

  before(async () => {
    server = await startHerald({
      dashboard: await dashboardOf(PASSWORD),
    });
    cookie = await dashboardSession(server.httpUrl, 'ada', PASSWORD);
  });
  after(() => server.stop());

  test('without a session every console answers 401', async () => {
    for (const path of [`/apps/${APP.id}/console`, '/realms/realm1/console']) {
      const response = await fetch(`${server.httpUrl}/dashboard/api${path}`);
      assert.equal(response.status, 401, path);
      assert.ok(((await response.json()) as { error?: string }).error);
    }
  });

  test("a signed-in operator sees an app's connection open as Server-Sent Events", async () => {
    // The stream says it is watching before anything happens: the client connects after that.
    const stream = await openConsole(server.httpUrl, `/apps/${APP.id}/console`, cookie);
    try {
      assert.match(stream.contentType, /^text\/event-stream/);
      const client = server.client();
      const socketId = await within(connected(client), 5000, 'pusher-js to connect');
      const event = await stream.find(
        is('connection_opened', { socketId }),
        'connection_opened on the console',
      );
      assert.equal((event as DebugEvent).node, server.herald.debugFeed.node);
      client.disconnect();
    } finally {
      stream.close();
    }
  });
});

describe('the debug console stream of a session that ends', () => {
  const TTL_MS = 1500;
  let server: TestHerald;

  before(async () => {
    server = await startHerald({
      dashboard: await dashboardOf(PASSWORD, { sessionTtlMs: TTL_MS }),
    });
  });
  after(() => server.stop());

  test('ends when the session expires, and the same cookie then gets 401', async () => {
    const cookie = await dashboardSession(server.httpUrl, 'ada', PASSWORD);
    const url = `${server.httpUrl}/dashboard/api/apps/${APP.id}/console`;
    const response = await fetch(url, { headers: { cookie } });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const ended = (async () => {
      while (!(await reader.read()).done);
    })();
    await within(ended, TTL_MS + 5000, 'the stream to end with the session');
    const again = await fetch(url, { headers: { cookie } });
    assert.equal(again.status, 401);
    assert.ok(((await again.json()) as { error?: string }).error);
  });
});
