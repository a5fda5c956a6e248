import { type App, secretsOf } from '../../core/apps/app.js';
import { authError, authFailure, userAuthString } from './auth.js';
import { jsonTooDeep, objectData } from './codec.js';
import { type PusherError, pusherError } from './errors.js';
import type { SignedInUser } from './subscription.js';

export type SigninCheck =
  | {
      ok: true;
      user: SignedInUser;
      /** The exact `user_data` string, echoed in `pusher:signin_success`. */
      userData: string;
      /** Watched user ids, at most `maxWatchlistSize`; empty when watchlist events are off. */
      watchlist: string[];
      /** How many watched ids were over the limit and dropped. */
      dropped: number;
    }
  | PusherError;

/**
 * Checks `pusher:signin` (Pusher docs, User authentication): signature over
 * `<socket_id>::user::<user_data>`, then user_data.
 */
export function checkSignin(
  app: App,
  socketId: string,
  data: unknown,
  current: SignedInUser | undefined,
  now: number = Date.now(),
): SigninCheck {
  if (typeof data === 'string' && jsonTooDeep(data)) {
    return pusherError('SIGNIN_TOO_DEEP');
  }
  const payload = objectData(data);
  const userData = payload?.user_data;
  if (!payload || typeof userData !== 'string') return pusherError('SIGNIN_USER_DATA_MISSING');
  const failure = authFailure(payload.auth, app.key, secretsOf(app, now), userAuthString(socketId, userData));
  const refused = authError('signin', failure);
  if (refused) return refused;
  if (jsonTooDeep(userData)) return pusherError('SIGNIN_USER_DATA_TOO_DEEP');
  const parsed = objectData(userData);
  const id = parsed?.id;
  if (!parsed || typeof id !== 'string' || id.length === 0) {
    return pusherError('SIGNIN_USER_ID_MISSING');
  }
  if (current && current.id !== id) {
    return pusherError('SIGNIN_OTHER_USER', current.id);
  }
  const requested = app.watchlistEvents && Array.isArray(parsed.watchlist) ? parsed.watchlist : [];
  const ids = requested
    .filter((w): w is string | number => (typeof w === 'string' && w.length > 0) || typeof w === 'number')
    .map(String);
  const watchlist = [...new Set(ids)].slice(0, app.maxWatchlistSize);
  return {
    ok: true,
    user: { id, info: parsed.user_info ?? null },
    userData,
    watchlist,
    dropped: Math.max(0, new Set(ids).size - watchlist.length),
  };
}
