import type { DebugFeed } from '../../core/debug-feed.js';
import { namespaceOf } from './app-states.js';
import type { ChannelEvents } from './events.js';

/**
 * `events` as they are, each also reported to the debug console's feed while the app is watched: the
 * same moments webhooks hear of (occupancy and membership decided from the cluster view, once), so the
 * console shows what the app's webhook receiver is told.
 */
export function withDebugFeed(events: ChannelEvents, feed: DebugFeed): ChannelEvents {
  return {
    channelOccupied(app, channel) {
      const ns = namespaceOf(app.id);
      if (feed.watched(ns)) feed.report(ns, { type: 'occupied', channel });
      events.channelOccupied(app, channel);
    },
    channelVacated(app, channel) {
      const ns = namespaceOf(app.id);
      if (feed.watched(ns)) feed.report(ns, { type: 'vacated', channel });
      events.channelVacated(app, channel);
    },
    memberAdded(app, channel, userId) {
      const ns = namespaceOf(app.id);
      if (feed.watched(ns)) feed.report(ns, { type: 'member_added', channel, userId });
      events.memberAdded(app, channel, userId);
    },
    memberRemoved(app, channel, userId) {
      const ns = namespaceOf(app.id);
      if (feed.watched(ns)) feed.report(ns, { type: 'member_removed', channel, userId });
      events.memberRemoved(app, channel, userId);
    },
    clientEvent(app, record) {
      const ns = namespaceOf(app.id);
      if (feed.watched(ns)) {
        const { channel, event, data, socketId, userId } = record;
        feed.report(ns, {
          type: 'client_event',
          channel,
          event,
          data,
          socketId,
          ...(userId ? { userId } : {}),
        });
      }
      events.clientEvent(app, record);
    },
    cacheMiss: (app, channel) => events.cacheMiss(app, channel),
    subscriptionCount: (app, channel, count) => events.subscriptionCount(app, channel, count),
  };
}
