import type { Adapter } from '../../adapters/adapter.js';
import type { AppStore } from '../../core/apps/app.js';
import type { OccupancyStore } from '../../core/channels/occupancy.js';
import type { PresenceStore } from '../../core/presence/store.js';
import { appIdOf } from './app-states.js';
import { encodeInternal } from './codec.js';
import type { ChannelEvents } from './events.js';
import { SIGNED_IN, type Users } from './users.js';

/** What cleaning up after a dead node needs. */
export interface NodeDownParts {
  readonly apps: Pick<AppStore, 'findById'>;
  readonly adapter: Pick<Adapter, 'publish'>;
  readonly presence: Pick<PresenceStore, 'removeNode'>;
  readonly occupancy?: Pick<OccupancyStore, 'removeNode'> | undefined;
  readonly events: ChannelEvents;
  /** Tells the watchers of users who went offline with the node, on every node. */
  readonly users: Pick<Users, 'announce'>;
}

/**
 * A node died without saying goodbye: its presence entries are removed here, and each member that
 * left with it is announced to the channel (and to webhooks) exactly once across the survivors; so
 * are the users it held signed in (watchlists) and the channels it left empty (webhooks).
 */
export async function cleanUpAfterNode(nodeId: string, parts: NodeDownParts): Promise<void> {
  const appOf = (namespace: string) => parts.apps.findById(appIdOf(namespace));
  const left = await parts.presence.removeNode(nodeId);
  for (const { namespace, channel, userId } of left) {
    if (channel === SIGNED_IN) {
      const app = await appOf(namespace);
      if (app) await parts.users.announce(app, userId, 'offline');
      continue;
    }
    const text = encodeInternal('pusher_internal:member_removed', { user_id: userId }, channel);
    await parts.adapter.publish({ namespace, channel, text });
    const app = await appOf(namespace);
    if (app) parts.events.memberRemoved(app, channel, userId);
  }
  for (const { namespace, channel } of (await parts.occupancy?.removeNode(nodeId)) ?? []) {
    const app = await appOf(namespace);
    if (app) parts.events.channelVacated(app, channel);
  }
}
