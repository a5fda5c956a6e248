/**
 * Channel kinds, decided from the name prefix in this one place (Pusher docs, Channels protocol; the
 * first prefix that matches wins).
 */

export type ChannelName = string;

export interface ChannelKind {
  /** Needs a signature to subscribe (private, encrypted, presence). */
  readonly authorized: boolean;
  readonly presence: boolean;
  readonly encrypted: boolean;
  /** Keeps the last event for new subscribers (Pusher docs, Cache channels). */
  readonly cache: boolean;
  /** `#server-to-user-<id>`: only that signed-in user may subscribe (Pusher docs, User authentication). */
  readonly user: boolean;
}

const kind = (k: Partial<ChannelKind>): ChannelKind =>
  Object.freeze({ authorized: false, presence: false, encrypted: false, cache: false, user: false, ...k });

export const USER_CHANNEL_PREFIX = '#server-to-user-';

const KINDS: readonly (readonly [string, ChannelKind])[] = [
  [USER_CHANNEL_PREFIX, kind({ user: true })],
  ['private-encrypted-cache-', kind({ authorized: true, encrypted: true, cache: true })],
  ['private-encrypted-', kind({ authorized: true, encrypted: true })],
  ['private-cache-', kind({ authorized: true, cache: true })],
  ['private-', kind({ authorized: true })],
  ['presence-cache-', kind({ authorized: true, presence: true, cache: true })],
  ['presence-', kind({ authorized: true, presence: true })],
  ['cache-', kind({ cache: true })],
];
const PUBLIC = kind({});

export function channelKind(name: ChannelName): ChannelKind {
  for (const [prefix, k] of KINDS) if (name.startsWith(prefix)) return k;
  return PUBLIC;
}

const VALID_NAME = /^[A-Za-z0-9_\-=@,.;]+$/;

/**
 * Why a name may not be used, or undefined when it may. `#server-to-user-<id>` passes here; who may
 * subscribe to it is decided by the caller.
 */
export function channelNameProblem(name: unknown, maxLength: number): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'channel name must be a non-empty string';
  if (name.length > maxLength) return `channel name is longer than ${maxLength} characters`;
  const body = name.startsWith(USER_CHANNEL_PREFIX) ? name.slice(USER_CHANNEL_PREFIX.length) : name;
  if (body.length === 0 || !VALID_NAME.test(body)) {
    return 'channel name may only contain A-Z, a-z, 0-9, _, -, =, @, ",", . and ;';
  }
  return undefined;
}
