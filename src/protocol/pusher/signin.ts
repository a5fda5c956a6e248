import type { App } from '../../core/apps/app.js';
import { authProblem, userAuthString } from './auth.js';
import { jsonTooDeep, objectData, TOO_DEEP } from './codec.js';
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
  | { ok: false; message: string };

/** Checks `pusher:signin` (spec §5.1): signature over `<socket_id>::user::<user_data>`, then user_data. */
export function checkSignin(
  app: App,
  socketId: string,
  data: unknown,
  current: SignedInUser | undefined,
): SigninCheck {
  if (typeof data === 'string' && jsonTooDeep(data)) {
    return { ok: false, message: `pusher:signin data is ${TOO_DEEP}` };
  }
  const payload = objectData(data);
  const userData = payload?.user_data;
  if (!payload || typeof userData !== 'string')
    return { ok: false, message: 'pusher:signin needs a user_data string' };
  const problem = authProblem(payload.auth, app.key, app.secret, userAuthString(socketId, userData));
  if (problem) return { ok: false, message: problem.replace('subscription auth data', 'signin auth data') };
  if (jsonTooDeep(userData)) return { ok: false, message: `user_data is ${TOO_DEEP}` };
  const parsed = objectData(userData);
  const id = parsed?.id;
  if (!parsed || typeof id !== 'string' || id.length === 0) {
    return { ok: false, message: 'user_data must be a JSON object with a non-empty string id' };
  }
  if (current && current.id !== id) {
    return { ok: false, message: `Connection is already signed in as user ${current.id}` };
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
