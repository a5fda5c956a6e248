import type { Logger } from 'pino';
import type { Adapter, ChannelMessage } from '../../adapters/adapter.js';
import type { App } from '../../core/apps/app.js';
import { streamRule } from '../../core/channel-history/rules.js';
import type { ChannelHistory, StreamPosition } from '../../core/channel-history/store.js';

/** What publishing a channel event needs. */
export interface EventPublishParts {
  readonly adapter: Pick<Adapter, 'publish'>;
  /** The streams of channels that keep history; none where the cluster set has no store for them. */
  readonly history?: ChannelHistory | undefined;
  readonly logger: Logger;
}

/**
 * Publishes a channel event (the HTTP API's, a client event) to every node. On a channel that keeps a
 * stream (docs/recovery.md) it is appended first and carries its position; nothing comes between the
 * append and the publish, so that a channel's events leave in offset order. A store that failed does
 * not stop the event: it goes out without a position (null), and its subscribers cannot recover
 * across it. An app without `history` costs one check.
 */
export async function publishEvent(
  parts: EventPublishParts,
  app: App,
  message: ChannelMessage,
): Promise<void> {
  if (app.history === null || parts.history === undefined) return parts.adapter.publish(message);
  const rule = streamRule(app.history, message.channel);
  if (!rule) return parts.adapter.publish(message);
  let stream: StreamPosition | null = null;
  try {
    stream = await parts.history.append(
      message.namespace,
      message.channel,
      { text: message.text, except: message.except },
      rule.limits,
    );
  } catch (err) {
    parts.logger.error({ err, channel: message.channel }, 'event not recorded in its stream');
  }
  return parts.adapter.publish({ ...message, stream });
}
