import type { App } from '../../core/apps/app.js';
import { channelKind } from '../../core/channels/names.js';
import type { ClientMessage } from './codec.js';

export type ClientEventCheck = { ok: true; channel: string; text: string } | { ok: false; message: string };

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
  if (!app.clientEvents) return { ok: false, message: 'Client events are not enabled for this app' };
  const { event, channel, data } = message;
  if (event.length > app.maxEventNameLength) {
    return { ok: false, message: `Event name is longer than ${app.maxEventNameLength} characters` };
  }
  if (channel === undefined) return { ok: false, message: 'Client event needs a channel' };
  const kind = channelKind(channel);
  if (!kind.authorized || kind.encrypted) {
    return {
      ok: false,
      message: `Client events are only allowed on private and presence channels, not on ${channel}`,
    };
  }
  if (!subscribed.has(channel))
    return { ok: false, message: `Client event on ${channel}, which this connection has not subscribed to` };
  const json = JSON.stringify(data ?? null);
  const bytes = Buffer.byteLength(json);
  if (bytes > app.maxEventPayloadBytes) {
    return {
      ok: false,
      message: `Client event data is ${bytes} bytes, over the limit of ${app.maxEventPayloadBytes}`,
    };
  }
  const userId = subscribed.get(channel);
  const head = `{"event":${JSON.stringify(event)},"channel":${JSON.stringify(channel)},"data":${json}`;
  return {
    ok: true,
    channel,
    text: userId == null ? `${head}}` : `${head},"user_id":${JSON.stringify(userId)}}`,
  };
}
