import { type App, secretsOf } from '../../core/apps/app.js';
import {
  type ChannelKind,
  channelKind,
  channelNameProblem,
  USER_CHANNEL_PREFIX,
} from '../../core/channels/names.js';
import type { PresenceMember } from '../../core/presence/store.js';
import { authError, authFailure, channelAuthString } from './auth.js';
import { jsonTooDeep, objectData } from './codec.js';
import { type PusherError, subscriptionError } from './errors.js';

/**
 * A subscription request that passed every check (Pusher docs, Channels protocol and Auth signatures)
 * but the presence member limit.
 */
export interface AcceptedSubscription {
  ok: true;
  channel: string;
  kind: ChannelKind;
  /** Set for presence channels. */
  member?: PresenceMember;
}

/** A refusal is a subscription `PusherError` (see `PusherErrors`), with the channel when one was named. */
export type SubscriptionCheck = AcceptedSubscription | PusherError;

/** The signed-in user of a connection, when it has one (Pusher docs, User authentication). */
export interface SignedInUser {
  id: string;
  info: unknown;
}

/**
 * Checks a `pusher:subscribe` payload for `socketId` on `app`: channel name, signature, presence
 * `channel_data` and its size limits. Pure: the member limit, which needs the presence store, is left
 * to the caller.
 */
export function checkSubscription(
  app: App,
  socketId: string,
  data: unknown,
  user: SignedInUser | undefined,
  now: number = Date.now(),
): SubscriptionCheck {
  if (typeof data === 'string' && jsonTooDeep(data)) {
    return subscriptionError('SUBSCRIBE_TOO_DEEP', undefined);
  }
  const payload = objectData(data);
  const channel = payload?.channel;
  if (!payload || typeof channel !== 'string') {
    return subscriptionError('SUBSCRIBE_NO_CHANNEL', undefined);
  }
  const nameProblem = channelNameProblem(channel, app.maxChannelNameLength);
  if (nameProblem) return subscriptionError('CHANNEL_NAME_INVALID', channel, nameProblem);

  const kind = channelKind(channel);
  if (kind.user) {
    const owner = channel.slice(USER_CHANNEL_PREFIX.length);
    return user?.id === owner
      ? { ok: true, channel, kind }
      : subscriptionError('USER_CHANNEL_FORBIDDEN', channel, owner);
  }
  if (!kind.authorized) return { ok: true, channel, kind };

  const channelData = payload.channel_data;
  if (channelData !== undefined && typeof channelData !== 'string') {
    return subscriptionError('CHANNEL_DATA_NOT_STRING', channel);
  }
  const signedData = kind.presence ? channelData : undefined;
  const signed = channelAuthString(socketId, channel, signedData);
  const refused = authError(
    'subscription',
    authFailure(payload.auth, app.key, secretsOf(app, now), signed),
    channel,
  );
  if (refused) return refused;
  if (!kind.presence) return { ok: true, channel, kind };

  if (channelData === undefined) {
    // Signed-in connections may omit channel_data; the member is the signed-in user (Pusher docs,
    // Authorizing users).
    return user
      ? limitedMember(app, channel, kind, user.id, user.info ?? null)
      : subscriptionError('PRESENCE_CHANNEL_DATA_MISSING', channel);
  }
  return presenceMember(app, channel, kind, channelData);
}

/**
 * Whether a connection that holds `held` subscriptions (made and in flight) may add `channel`, asked
 * before any other work is done for it: not past the app's `maxSubscriptionsPerConnection`, nor while
 * the server is over `maxMemoryMB` (README "App settings", "Server settings"). Both answer 429 and
 * leave the connection open.
 */
export function admission(
  app: App,
  channel: string,
  held: number,
  memoryOver: boolean,
): PusherError | undefined {
  const max = app.maxSubscriptionsPerConnection;
  if (max !== null && held >= max) return subscriptionError('SUBSCRIPTION_LIMIT', channel, max);
  if (memoryOver) return subscriptionError('OVER_CAPACITY_RETRY_LATER', channel);
  return undefined;
}

function presenceMember(
  app: App,
  channel: string,
  kind: ChannelKind,
  channelData: string,
): SubscriptionCheck {
  if (jsonTooDeep(channelData)) return subscriptionError('CHANNEL_DATA_TOO_DEEP', channel);
  const parsed = objectData(channelData);
  const rawId = parsed?.user_id;
  const validId =
    (typeof rawId === 'string' && rawId.length > 0) || (typeof rawId === 'number' && Number.isFinite(rawId));
  if (!parsed || !validId) {
    return subscriptionError('CHANNEL_DATA_USER_ID_MISSING', channel);
  }
  return limitedMember(app, channel, kind, String(rawId), parsed.user_info ?? null);
}

/** The member, unless its id or info is over the app's limits (the same for a signed-in user's). */
function limitedMember(
  app: App,
  channel: string,
  kind: ChannelKind,
  userId: string,
  info: unknown,
): SubscriptionCheck {
  if (userId.length > app.maxPresenceUserIdLength) {
    return subscriptionError('PRESENCE_USER_ID_TOO_LONG', channel, app.maxPresenceUserIdLength);
  }
  if (info !== null && Buffer.byteLength(JSON.stringify(info)) > app.maxPresenceUserInfoBytes) {
    return subscriptionError('PRESENCE_USER_INFO_TOO_LARGE', channel, app.maxPresenceUserInfoBytes);
  }
  return { ok: true, channel, kind, member: { userId, info } };
}
