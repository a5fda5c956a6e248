import type { App } from '../../core/apps/app.js';
import type { Subscriber } from '../../core/channels/registry.js';
import type { Connection, Session } from '../../core/connection.js';
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
