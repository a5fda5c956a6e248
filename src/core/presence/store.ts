/** A presence channel member as other members see it. */
export interface PresenceMember {
  readonly userId: string;
  /** The `user_info` given when the user's first connection joined; null when none. */
  readonly info: unknown;
}

export type JoinResult = 'added' | 'existing' | 'full';

/**
 * Presence membership per channel: user → member info and the set of sockets holding it. Membership
 * is per user: a user with several connections is one member (Pusher docs, Presence channels).
 *
 * Every method is atomic per (namespace, channel); the cluster implementation keeps that promise
 * across nodes, so exactly one node sees 'added' for a user's first join and the last leave.
 */
export interface PresenceStore {
  /**
   * Records that `socketId` holds `member`. Returns 'added' when this is the user's first connection
   * (announce `member_added`), 'existing' when the user was already present, and 'full' when the
   * channel already has `maxMembers` other users (nothing recorded).
   */
  join(
    namespace: string,
    channel: string,
    socketId: string,
    member: PresenceMember,
    maxMembers: number,
  ): Promise<JoinResult>;
  /**
   * Forgets `socketId`'s membership. Resolves true when that was the user's last connection
   * (announce `member_removed`); false when the user is still present or the socket was unknown.
   */
  leave(namespace: string, channel: string, socketId: string, userId: string): Promise<boolean>;
  /** Distinct members (order unspecified). */
  members(namespace: string, channel: string): Promise<PresenceMember[]>;
  /** Number of distinct members. */
  count(namespace: string, channel: string): Promise<number>;
  /**
   * Forgets every membership held by sockets of a node that died. Resolves with the members that left
   * as a result (the user's last connection was there); across concurrent callers each is returned
   * exactly once.
   */
  removeNode(nodeId: string): Promise<{ namespace: string; channel: string; userId: string }[]>;
  close(): Promise<void>;
}
