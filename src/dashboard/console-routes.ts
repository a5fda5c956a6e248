import type { DebugFeed } from '../core/debug-feed.js';
import { consoleStreamResult } from './console-stream.js';
import type { DashboardAccess } from './routes.js';

/**
 * The debug console's streams, for a signed-in operator: an app's events (namespace `pusher:<id>`)
 * and a WAMP realm's (`wamp:<realm>`), from every node of the cluster, as Server-Sent Events.
 */
export function addConsoleRoutes(dashboard: DashboardAccess, feed: DebugFeed): void {
  dashboard.route('GET', '/apps/:id/console', (request) =>
    consoleStreamResult(feed, `pusher:${request.params[0]!}`),
  );
  dashboard.route('GET', '/realms/:name/console', (request) =>
    consoleStreamResult(feed, `wamp:${request.params[0]!}`),
  );
}
