import { randomBytes } from 'node:crypto';
import { objectData } from './codec.js';
import { type PusherError, pusherError } from './errors.js';
import { StreamTally } from './stream-tally.js';

/**
 * The pure parts of resuming a connection (docs/recovery.md): resume tokens, the `herald:resume` a
 * client sends, and the resume state a closed connection leaves in the store. No I/O.
 */

/** A resume token: 128 bits from a CSPRNG, in base64url (22 characters). */
export function newResumeToken(): string {
  return randomBytes(16).toString('base64url');
}

/** What a token may look like on the wire: ours are 22 characters; longer is nobody's. */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** The socket ids a resume state remembers: its connection's and those it resumed, newest last. */
export const MAX_SOCKET_IDS = 4;

/** The `data` of `herald:resume`, checked. */
export interface ResumeRequest {
  readonly token: string;
  /** Per channel, the channel events the client received since its subscription succeeded. */
  readonly received: ReadonlyMap<string, number>;
}

/**
 * `herald:resume`'s `data`: `{"token": "…", "received": {"<channel>": <count>, …}}`, as an object or
 * a JSON string of one, with at most `maxChannels` channels. The refusal names what is wrong.
 */
export function parseResume(data: unknown, maxChannels: number): ResumeRequest | PusherError {
  const fields = objectData(data);
  if (!fields) return pusherError('RESUME_INVALID', 'data must be an object');
  const { token, received } = fields;
  if (typeof token !== 'string' || !TOKEN.test(token))
    return pusherError('RESUME_INVALID', 'token must be the resume_token of herald:session');
  if (received === null || typeof received !== 'object' || Array.isArray(received))
    return pusherError('RESUME_INVALID', 'received must be an object of channel names and counts');
  const entries = Object.entries(received);
  if (entries.length > maxChannels)
    return pusherError('RESUME_INVALID', `received names more than ${maxChannels} channels`);
  const counts = new Map<string, number>();
  for (const [channel, count] of entries) {
    if (!Number.isSafeInteger(count) || (count as number) < 0)
      return pusherError('RESUME_INVALID', 'each count in received must be a whole number, 0 or more');
    counts.set(channel, count as number);
  }
  return { token, received: counts };
}

/** A closed connection's resume state: the socket ids whose events it skips and each channel's tally. */
export interface ResumeState {
  readonly socketIds: readonly string[];
  readonly channels: ReadonlyMap<string, StreamTally>;
}

/** The plain JSON a resume state is kept as. */
export function resumeStateJson(state: ResumeState): unknown {
  // Channel names are the clients': a null-prototype object keeps `__proto__` a plain key.
  const channels: Record<string, unknown> = Object.create(null);
  for (const [channel, tally] of state.channels) channels[channel] = tally.toJSON();
  return { socketIds: state.socketIds.slice(-MAX_SOCKET_IDS), channels };
}

/**
 * A resume state from the store, which may have come from another node: undefined when it is not
 * one. A channel whose tally is not one is left out; `window` gives each channel's tally window.
 */
export function parseResumeState(
  value: unknown,
  window: (channel: string) => number,
): ResumeState | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { socketIds, channels } = value as Record<string, unknown>;
  if (
    !Array.isArray(socketIds) ||
    socketIds.length > MAX_SOCKET_IDS ||
    !socketIds.every((id) => typeof id === 'string')
  )
    return undefined;
  if (channels === null || typeof channels !== 'object' || Array.isArray(channels)) return undefined;
  const tallies = new Map<string, StreamTally>();
  for (const [channel, json] of Object.entries(channels)) {
    const tally = StreamTally.fromJSON(json, window(channel));
    if (tally) tallies.set(channel, tally);
  }
  return { socketIds: socketIds as string[], channels: tallies };
}
