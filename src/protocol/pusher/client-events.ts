import type { App } from '../../core/apps/app.js';
import { channelKind } from '../../core/channels/names.js';
import type { ClientMessage } from './codec.js';
import { type PusherError, pusherError } from './errors.js';

export type ClientEventCheck = { ok: true; channel: string; text: string } | PusherError;

/**
 * Checks a `client-*` event from a subscribed connection (spec §4) and builds the frame other
 * subscribers get: rebuilt from `event`, `channel` and `data` only, with the sender's presence
 * `user_id` added on presence channels. Rate limiting is the caller's.
 */
export function checkClientEvent(
  app: App,
  message: ClientMessage,
  subscribed: ReadonlyMap<string, string | null>,
): ClientEventCheck {
  if (!app.clientEvents) return pusherError('CLIENT_EVENTS_DISABLED');
  const { event, channel, data } = message;
  if (event.length > app.maxEventNameLength) {
    return pusherError('CLIENT_EVENT_NAME_TOO_LONG', app.maxEventNameLength);
  }
  if (channel === undefined) return pusherError('CLIENT_EVENT_NO_CHANNEL');
  const kind = channelKind(channel);
  if (!kind.authorized || kind.encrypted) {
    return pusherError('CLIENT_EVENT_CHANNEL_KIND', channel);
  }
  if (!subscribed.has(channel)) return pusherError('CLIENT_EVENT_NOT_SUBSCRIBED', channel);
  const json = JSON.stringify(data ?? null);
  const bytes = Buffer.byteLength(json);
  if (bytes > app.maxEventPayloadBytes) {
    return pusherError('CLIENT_EVENT_TOO_LARGE', bytes, app.maxEventPayloadBytes);
  }
  const userId = subscribed.get(channel);
  const head = `{"event":${JSON.stringify(event)},"channel":${JSON.stringify(channel)},"data":${json}`;
  return {
    ok: true,
    channel,
    text: userId == null ? `${head}}` : `${head},"user_id":${JSON.stringify(userId)}}`,
  };
}
