import type { App } from '../../core/apps/app.js';
import type { Subscriber } from '../../core/channels/registry.js';
import type { Connection, Session } from '../../core/connection.js';
import type { ResumeRequest, ResumeState } from './resume.js';
import type { StreamTally } from './stream-tally.js';
import type { SignedInUser } from './subscription.js';

/** The watchlist of a socket that has none; shared, so that sockets do not each hold an empty array. */
const NO_WATCHLIST: readonly string[] = Object.freeze([]);

/** Hooks the Pusher server implements for its sockets; kept apart so a socket holds no closures. */
export interface SocketOwner {
  message(socket: PusherSocket, text: string, bytes: number): void;
  binary(socket: PusherSocket, bytes: number): void;
  overflowed(socket: PusherSocket): void;
  /** `code` is the WebSocket close code, when the transport knows it. */
  closed(socket: PusherSocket, code?: number): void;
  readonly now: () => number;
}

/** One Pusher connection's state. Small on purpose: tens of thousands of these are kept per node. */
export class PusherSocket implements Session, Subscriber {
  /** The socket_id, set once `pusher:connection_established` is sent. */
  id = '';
  app: App | undefined = undefined;
  /** `closing` once the server decided to close it; no further message is handled. */
  state: 'pending' | 'open' | 'closing' | 'closed' = 'pending';
  /** Subscribed channels; the value is the presence user id, or null for other kinds. */
  readonly channels = new Map<string, string | null>();
  /** Subscribes admitted and not finished yet: they count against the subscription limit. */
  subscribing = 0;
  user: SignedInUser | undefined = undefined;
  /** User ids this signed-in connection watches (Pusher docs, Watchlist events). */
  watchlist: readonly string[] = NO_WATCHLIST;
  /** Closes the connection if it has not signed in in time, for apps that require it. */
  signinTimer: NodeJS.Timeout | undefined = undefined;
  /** Start of the current one-second window of client events, and how many were sent in it. */
  clientEventWindow = 0;
  clientEventCount = 0;
  lastSeen: number;
  /** When the server sent `pusher:ping` without an answer yet; 0 when none is outstanding. */
  pingedAt = 0;
  /**
   * For apps with `history` (docs/recovery.md): the token that resumes this connection once it is
   * closed, and what it was sent on each subscribed channel that keeps a stream.
   */
  resumeToken: string | undefined = undefined;
  streams: Map<string, StreamTally> | undefined = undefined;
  /** The connection this one resumes, once it sent `herald:resume`. */
  resumed: Resumed | undefined = undefined;
  /**
   * Subscribe, unsubscribe and close run one after another, in arrival order: the last one queued, or
   * undefined once all have run (an idle socket holds no promise).
   */
  chain: Promise<void> | undefined = undefined;

  constructor(
    readonly owner: SocketOwner,
    readonly connection: Connection,
  ) {
    this.lastSeen = owner.now();
  }

  onMessage(text: string, bytes: number): void {
    this.onActivity();
    this.owner.message(this, text, bytes);
  }

  onBinary(data: Buffer): void {
    this.onActivity();
    this.owner.binary(this, data.length);
  }

  onActivity(): void {
    this.lastSeen = this.owner.now();
    this.pingedAt = 0;
  }

  onOverflow(): void {
    this.owner.overflowed(this);
  }

  onClose(code?: number): void {
    this.owner.closed(this, code);
  }
}

/** A connection's `herald:resume`: what the client counted, and the resumed connection's state. */
export interface Resumed {
  readonly request: ResumeRequest;
  /** Undefined while it is looked up, and when the token is unknown or expired. */
  previous: ResumeState | undefined;
  /** The channels of `request.received` answered with `herald:resumed` (once each). */
  readonly answered: Set<string>;
}
