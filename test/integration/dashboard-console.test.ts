import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DebugEvent } from '../../src/core/debug-feed.js';
import { hashPassword } from '../../src/dashboard/auth.js';
import { dashboardSession, openConsole } from '../helpers/dashboard.js';
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
      dashboard: { enabled: true, users: [{ name: 'ada', passwordHash: await hashPassword(PASSWORD) }] },
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
