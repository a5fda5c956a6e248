/** The protocols whose connections are counted per app; the `protocol` label on `/metrics`. */
export type TrafficProtocol = 'pusher' | 'wamp';

/**
 * One app's (or WAMP realm's) connections and WebSocket traffic on this node since start: plain
 * numbers bumped where the work already happens (the transport at the app's connections' open, close,
 * each message received and each batched write; the Pusher server for client events), read by the
 * metrics at scrape time. Nothing here allocates per message.
 */
export class Traffic {
  /** Connections counted here and not closed yet. */
  connections = 0;
  /** Connections counted here since start. */
  opened = 0;
  /** Closed connections by close code label (see `closeCodeLabel`). */
  readonly closed = new Map<string, number>();
  /** Messages received, and their payload bytes. */
  messagesIn = 0;
  bytesIn = 0;
  /** Messages written to the sockets, and their bytes on the wire (WebSocket frame headers included). */
  messagesOut = 0;
  bytesOut = 0;
  /** Pusher client events accepted and relayed to the channel's other subscribers. */
  clientEvents = 0;

  /** A connection counted here closed with `code`. */
  close(code: number): void {
    this.connections--;
    const label = closeCodeLabel(code);
    this.closed.set(label, (this.closed.get(label) ?? 0) + 1);
  }
}

/**
 * The `code` label of a close: the code itself for the codes WebSocket defines (1000–1015: RFC 6455
 * section 7.4.1, "Defined Status Codes", and its IANA registry; 1005 and 1006 included) and for
 * Pusher's three bands (4000–4299, Pusher docs, Channels protocol); `other` for any other code a client
 * may choose, so that clients cannot make series without bound.
 */
export function closeCodeLabel(code: number): string {
  if ((code >= 1000 && code <= 1015) || (code >= 4000 && code <= 4299)) return String(code);
  return 'other';
}

/**
 * Every app's `Traffic` on this node, by protocol and app id (the realm name for WAMP). Entries are
 * made when the protocol first meets a known app, so there are as many as configured apps and realms
 * at most, and are kept so that counters never go back.
 */
export class AppTraffic {
  readonly #byProtocol: Record<TrafficProtocol, Map<string, Traffic>> = {
    pusher: new Map(),
    wamp: new Map(),
  };

  /** The app's counters, made on first use. */
  of(protocol: TrafficProtocol, app: string): Traffic {
    const apps = this.#byProtocol[protocol];
    let traffic = apps.get(app);
    if (!traffic) {
      traffic = new Traffic();
      apps.set(app, traffic);
    }
    return traffic;
  }

  *entries(): IterableIterator<{ protocol: TrafficProtocol; app: string; traffic: Traffic }> {
    for (const protocol of ['pusher', 'wamp'] as const) {
      for (const [app, traffic] of this.#byProtocol[protocol]) yield { protocol, app, traffic };
    }
  }
}
