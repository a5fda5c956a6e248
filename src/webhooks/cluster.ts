import type { Logger } from 'pino';
import type { Adapter } from '../adapters/adapter.js';
import { busFields } from '../adapters/bus-payload.js';
import type { WebhooksConfig } from '../config/schema.js';
import type { AppStore } from '../core/apps/app.js';
import type { DebugFeed } from '../core/debug-feed.js';
import type { WebhookOutbox } from '../core/webhook-outbox.js';
import { Webhooks } from './webhooks.js';

/** The cluster request that drops a webhook removal held on another node. */
const CANCEL_HELD = 'webhooks.cancel-held';

/** What a node's webhooks are built with, all from the composition root (`src/server.ts`). */
export interface ClusterWebhooksOptions {
  config: WebhooksConfig;
  logger: Logger;
  /** Milliseconds since the epoch, for the events' `time_ms`. */
  now: () => number;
  /** Where the apps of a dead node's held removals are looked up. */
  apps: AppStore;
  adapter: Adapter;
  /** The set's outbox; absent for a single node, which then has nobody to share its webhooks with. */
  outbox?: WebhookOutbox | undefined;
  /** Where each delivery attempt is reported for the debug console. */
  debugFeed?: DebugFeed | undefined;
}

/**
 * A node's webhooks. With an outbox (a set of cluster parts over a broker), a removal held back on one
 * node is dropped when its channel or member comes back on another, so the receiver sees neither, and
 * when a node dies one survivor takes over its held removals and undelivered requests.
 */
export function clusterWebhooks(options: ClusterWebhooksOptions): Webhooks {
  const { config, logger, now, apps, adapter, outbox } = options;
  const debugFeed = options.debugFeed ? { debugFeed: options.debugFeed } : {};
  if (!outbox) return new Webhooks({ config, logger, now, ...debugFeed });
  const webhooks = new Webhooks({
    config,
    logger,
    now,
    ...debugFeed,
    outbox,
    cancelElsewhere: async (appId, channel, userId) => {
      const { answers } = await adapter.request<boolean>(CANCEL_HELD, { appId, channel, userId });
      return answers.includes(true);
    },
  });
  adapter.handle(CANCEL_HELD, (payload) => {
    const shape = { appId: 'string', channel: 'string', userId: 'string?' } as const;
    const { appId, channel, userId } = busFields(CANCEL_HELD, payload, shape);
    return webhooks.cancelHeld(appId, channel, userId);
  });
  // A dead node's held removals and undelivered requests: one survivor takes each over.
  adapter.onNodeDown((nodeId) => {
    outbox
      .takeOver(nodeId)
      .then(async (entries) => {
        if (entries.length === 0) return;
        logger.info({ nodeId, entries: entries.length }, 'webhooks taken over from the node');
        await webhooks.adopt(entries, (id) => apps.findById(id));
      })
      .catch((err) => logger.error({ err, nodeId }, 'webhooks of the node not taken over'));
  });
  return webhooks;
}
