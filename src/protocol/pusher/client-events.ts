import type { App } from '../../core/apps/app.js';
import { channelKind } from '../../core/channels/names.js';
import type { AppTraffic } from '../../core/traffic.js';
import { namespaceOf } from './app-states.js';
import type { ClientMessage } from './codec.js';
import { type PusherError, pusherError } from './errors.js';
import type { ChannelEvents } from './events.js';
import type { PusherSocket } from './socket.js';
import { type EventPublishParts, publishEvent } from './stream-publish.js';

/** One refusal for every client event over the rate: a flood of them costs no allocation each. */
const CLIENT_EVENT_RATE_LIMITED = pusherError('CLIENT_EVENT_RATE_LIMIT');

export type ClientEventCheck = { ok: true; channel: string; text: string } | PusherError;

/**
 * Checks a `client-*` event from a subscribed connection (Pusher docs, Events) and builds the frame other
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

/** What relaying client events needs of the server. */
export interface ClientEventParts extends EventPublishParts {
  readonly events: ChannelEvents;
  readonly now: () => number;
  /** Where relayed client events are counted. */
  readonly traffic: Pick<AppTraffic, 'of'>;
}

/**
 * Client events (Pusher docs, Events): rate-limited per connection first, then
 * checked (`checkClientEvent`), reported to webhooks and relayed to the channel's other subscribers on
 * every node.
 */
export class ClientEvents {
  readonly #parts: ClientEventParts;

  constructor(parts: ClientEventParts) {
    this.#parts = parts;
  }

  /** Relays `message` from `socket`, an open connection; throws the `PusherError` that refuses it. */
  relay(socket: PusherSocket, message: ClientMessage): void {
    const parts = this.#parts;
    const app = socket.app!;
    const now = parts.now();
    if (now - socket.clientEventWindow >= 1000) {
      socket.clientEventWindow = now;
      socket.clientEventCount = 0;
    }
    if (++socket.clientEventCount > app.maxClientEventsPerSecond) throw CLIENT_EVENT_RATE_LIMITED;
    const check = checkClientEvent(app, message, socket.channels);
    if (!check.ok) throw check;
    const userId = socket.channels.get(check.channel);
    parts.traffic.of('pusher', app.id).clientEvents++;
    parts.events.clientEvent(app, {
      channel: check.channel,
      event: message.event,
      data: typeof message.data === 'string' ? message.data : JSON.stringify(message.data ?? null),
      socketId: socket.id,
      ...(userId != null ? { userId } : {}),
    });
    publishEvent(parts, app, {
      namespace: namespaceOf(app.id),
      channel: check.channel,
      text: check.text,
      except: socket.id,
    }).catch((err) => parts.logger.error({ err, channel: check.channel }, 'client event not published'));
  }
}
