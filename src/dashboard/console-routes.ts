import type { DebugFeed } from '../core/debug-feed.js';
import { consoleStreamResult } from './console-stream.js';
import type { DashboardAccess } from './routes.js';

/**
 * The debug console's streams, for a signed-in operator: an app's events (namespace `pusher:<id>`)
 * and a WAMP realm's (`wamp:<realm>`), from every node of the cluster, as Server-Sent Events. Each
 * stream ends with the session that opened it (`now` is the clock sessions expire by).
 */
export function addConsoleRoutes(dashboard: DashboardAccess, feed: DebugFeed, now = Date.now): void {
  dashboard.route('GET', '/apps/:id/console', (request, session) =>
    consoleStreamResult(feed, `pusher:${request.params[0]!}`, { endsInMs: session.expiresAt - now() }),
  );
  dashboard.route('GET', '/realms/:name/console', (request, session) =>
    consoleStreamResult(feed, `wamp:${request.params[0]!}`, { endsInMs: session.expiresAt - now() }),
  );
}
