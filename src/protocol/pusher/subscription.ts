import type { App } from '../../core/apps/app.js';
import {
  type ChannelKind,
  channelKind,
  channelNameProblem,
  USER_CHANNEL_PREFIX,
} from '../../core/channels/names.js';
import type { LimitName } from '../../core/limit-refusals.js';
import type { PresenceMember } from '../../core/presence/store.js';
import { authProblem, channelAuthString } from './auth.js';
import { ErrorCode } from './close-codes.js';
import { jsonTooDeep, objectData, TOO_DEEP } from './codec.js';

/** A subscription request that passed every check of spec §3.5 but the presence member limit. */
export interface AcceptedSubscription {
  ok: true;
  channel: string;
  kind: ChannelKind;
  /** Set for presence channels. */
  member?: PresenceMember;
}

/** Why a subscription was refused, in the shape of `pusher:subscription_error` (spec §2.5). */
export interface RefusedSubscription {
  ok: false;
  /** Absent when the request named no channel. */
  channel?: string;
  type: 'AuthError' | 'ChannelNameError' | 'InvalidRequest' | 'LimitReached' | 'OverCapacity' | 'ServerError';
  error: string;
  status: number;
  /** The code of the `pusher:error` that goes with it. @default null */
  code?: number;
  /** The limit that refused it, counted on `/metrics`. */
  limit?: LimitName;
}

export type SubscriptionCheck = AcceptedSubscription | RefusedSubscription;

/** The signed-in user of a connection, when it has one (spec §5). */
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
): SubscriptionCheck {
  if (typeof data === 'string' && jsonTooDeep(data)) {
    return refuse(undefined, 'InvalidRequest', `pusher:subscribe data is ${TOO_DEEP}`, 400);
  }
  const payload = objectData(data);
  const channel = payload?.channel;
  if (!payload || typeof channel !== 'string') {
    return refuse(undefined, 'InvalidRequest', 'pusher:subscribe needs data with a string "channel"', 400);
  }
  const nameProblem = channelNameProblem(channel, app.maxChannelNameLength);
  if (nameProblem) return refuse(channel, 'ChannelNameError', nameProblem, 400);

  const kind = channelKind(channel);
  if (kind.user) {
    const owner = channel.slice(USER_CHANNEL_PREFIX.length);
    return user?.id === owner
      ? { ok: true, channel, kind }
      : refuse(channel, 'AuthError', `Only the connection signed in as user ${owner} may subscribe`, 403);
  }
  if (!kind.authorized) return { ok: true, channel, kind };

  const channelData = payload.channel_data;
  if (channelData !== undefined && typeof channelData !== 'string') {
    return refuse(channel, 'InvalidRequest', 'channel_data must be a JSON string', 400);
  }
  const signedData = kind.presence ? channelData : undefined;
  const problem = authProblem(
    payload.auth,
    app.key,
    app.secret,
    channelAuthString(socketId, channel, signedData),
  );
  if (problem) return refuse(channel, 'AuthError', problem, 401);
  if (!kind.presence) return { ok: true, channel, kind };

  if (channelData === undefined) {
    // Signed-in connections may omit channel_data; the member is the signed-in user (spec §3.3).
    return user
      ? limitedMember(app, channel, kind, user.id, user.info ?? null)
      : refuse(channel, 'InvalidRequest', 'Presence subscription needs channel_data', 400);
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
): RefusedSubscription | undefined {
  const max = app.maxSubscriptionsPerConnection;
  if (max !== null && held >= max) {
    return {
      ok: false,
      channel,
      type: 'LimitReached',
      error: `This connection is subscribed to ${max} channels, the most allowed: unsubscribe from one first`,
      status: 429,
      code: ErrorCode.SUBSCRIPTION_LIMIT,
      limit: 'subscriptions_per_connection',
    };
  }
  if (memoryOver) {
    return {
      ok: false,
      channel,
      type: 'OverCapacity',
      error: 'Server is over capacity: no new subscriptions for now, retry later',
      status: 429,
      code: ErrorCode.OVER_CAPACITY_RETRY_LATER,
      limit: 'memory',
    };
  }
  return undefined;
}

function presenceMember(
  app: App,
  channel: string,
  kind: ChannelKind,
  channelData: string,
): SubscriptionCheck {
  if (jsonTooDeep(channelData)) return refuse(channel, 'InvalidRequest', `channel_data is ${TOO_DEEP}`, 400);
  const parsed = objectData(channelData);
  const rawId = parsed?.user_id;
  const validId =
    (typeof rawId === 'string' && rawId.length > 0) || (typeof rawId === 'number' && Number.isFinite(rawId));
  if (!parsed || !validId) {
    return refuse(channel, 'InvalidRequest', 'channel_data must be a JSON object with a user_id', 400);
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
    return refuse(
      channel,
      'LimitReached',
      `user_id is longer than ${app.maxPresenceUserIdLength} characters`,
      400,
    );
  }
  if (info !== null && Buffer.byteLength(JSON.stringify(info)) > app.maxPresenceUserInfoBytes) {
    return refuse(
      channel,
      'LimitReached',
      `user_info is larger than ${app.maxPresenceUserInfoBytes} bytes`,
      400,
    );
  }
  return { ok: true, channel, kind, member: { userId, info } };
}

function refuse(
  channel: string | undefined,
  type: RefusedSubscription['type'],
  error: string,
  status: number,
): RefusedSubscription {
  return channel === undefined
    ? { ok: false, type, error, status }
    : { ok: false, channel, type, error, status };
}
