import type { Adapter } from '../adapters/adapter.js';
import type { AppStore } from '../core/apps/app.js';
import type { PusherQueries } from '../protocol/pusher/queries.js';
import type { WampRouter } from '../protocol/wamp/router.js';
import { addAppRoutes } from './app-routes.js';
import type { DashboardAccess } from './routes.js';
import { answerStats, StatsSampler, type StatsSources } from './stats.js';
import { addWampRoutes, answerRealms } from './wamp-routes.js';

export interface ViewParts extends StatsSources {
  apps: AppStore;
  queries: PusherQueries;
  wamp: Pick<WampRouter, 'realm' | 'realmStats'>;
  adapter: Pick<Adapter, 'request' | 'handle'>;
}

/**
 * The routes of the dashboard's views, and this node's answers to the other nodes' questions for
 * them. Returns the sampler of the apps' history, for its owner to `start` and `stop`.
 */
export function addViewRoutes(dashboard: DashboardAccess, parts: ViewParts): StatsSampler {
  const sampler = new StatsSampler(parts);
  answerStats(parts.adapter, sampler);
  answerRealms(parts.adapter, parts.wamp);
  addAppRoutes(dashboard, parts);
  addWampRoutes(dashboard, parts.wamp, parts.adapter);
  return sampler;
}
