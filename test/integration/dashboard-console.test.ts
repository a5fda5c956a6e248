import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dashboardOf, dashboardSession } from '../helpers/dashboard.js';
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
    const abort = new AbortController();
    const response = await fetch(`${server.httpUrl}/dashboard/api/apps/${APP.id}/console`, {
      headers: { cookie },
      signal: abort.signal,
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    // The stream says it is watching before anything happens: the client connects after that.
    while (!text.includes(': watching')) text += decoder.decode((await reader.read()).value);
    const client = server.client();
    const socketId = await within(connected(client), 5000, 'pusher-js to connect');
    const opened = (async () => {
      for (;;) {
        for (const line of text.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const event = JSON.parse(line.slice(6)) as { type: string; socketId?: string };
          if (event.type === 'connection_opened' && event.socketId === socketId) return event;
        }
        text += decoder.decode((await reader.read()).value);
      }
    })();
    const event = await within(opened, 5000, 'connection_opened on the console');
    assert.equal(event.socketId, socketId);
    abort.abort();
    client.disconnect();
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
