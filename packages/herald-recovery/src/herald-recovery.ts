/**
 * Message recovery across reconnects for pusher-js and Laravel Echo on a Herald server (Herald's
 * docs/recovery.md). pusher-js keeps only the event, channel, data and user_id of each message, so the
 * client says what it got by counting: per channel, the channel events received since its subscription
 * succeeded. On a reconnect, before pusher-js subscribes again, it sends those counts with the resume
 * token of the connection it lost (`herald:resume`); Herald then replays what was missed on each
 * channel, in order and once, and says per channel whether it could (`herald:resumed`).
 *
 * No dependencies; works with pusher-js 7 and 8 in browsers and Node, and with Laravel Echo's `pusher`
 * and `reverb` broadcasters.
 */

/** A message as pusher-js hands it on (its `data` parsed when it was JSON). */
export interface PusherMessage {
  event: string;
  channel?: string;
  data?: unknown;
}

/** What this uses of a pusher-js `ConnectionManager` (`pusher.connection`). */
export interface PusherConnection {
  bind(event: string, callback: (payload: never) => void): unknown;
  unbind(event: string, callback: (payload: never) => void): unknown;
  send_event(name: string, data: unknown, channel?: string): boolean;
}

/** A pusher-js client, or anything with its `connection` and `channel`. */
export interface PusherClient {
  connection: PusherConnection;
  channel(name: string): unknown;
}

/** A Laravel Echo instance with a Pusher-protocol connector (`broadcaster: 'pusher'` or `'reverb'`). */
export interface EchoClient {
  connector: { pusher: PusherClient };
}

/** How a channel came back after a reconnect. */
export interface ResumedChannel {
  channel: string;
  /**
   * True: every event missed while away was delivered, in order, before this; nothing to do. False:
   * some could not be (away too long, more missed than the channel keeps, the server's history lost):
   * refetch the channel's state.
   */
  recovered: boolean;
  /** The channel's stream epoch now (null when it has none), as the HTTP API's events route names it. */
  epoch: string | null;
}

export interface RecoveryOptions {
  /** Called once per channel counted before a reconnect and subscribed to again after it. */
  onResumed?: (resumed: ResumedChannel) => void;
}

export interface Recovery {
  /** The channel events received on each channel since its subscription succeeded. */
  counts(): Record<string, number>;
  /** Stops counting and resuming; the client goes on as if it had never been added. */
  detach(): void;
}

/** Events the client counts: those of the app, not the protocol's own. */
function counted(event: string): boolean {
  return !/^(pusher|pusher_internal|herald):/.test(event);
}

function clientOf(target: PusherClient | EchoClient): PusherClient {
  return 'connector' in target ? target.connector.pusher : target;
}

/**
 * Adds message recovery to a pusher-js client or a Laravel Echo instance; call it right after creating
 * the client, before it connects. Channels also get `herald:resumed` as an event of their own
 * (`channel.bind('herald:resumed', …)`, with Echo `.listen('.herald:resumed', …)`).
 */
export function withRecovery(target: PusherClient | EchoClient, options: RecoveryOptions = {}): Recovery {
  const client = clientOf(target);
  const connection = client.connection;
  /** Per channel: events counted since its subscription succeeded (on this connection or the one before). */
  const tally: Record<string, number> = Object.create(null);
  /** The resume token of the latest connection that gave one. */
  let token: string | undefined;

  const onMessage = (message: PusherMessage) => {
    const { event, channel, data } = message;
    if (channel === undefined) {
      if (event === 'herald:session' && data !== null && typeof data === 'object') {
        const given = (data as { resume_token?: unknown }).resume_token;
        if (typeof given === 'string') token = given;
      }
      return;
    }
    if (event === 'pusher_internal:subscription_succeeded') {
      tally[channel] = 0;
    } else if (event === 'herald:resumed') {
      const result = (data ?? {}) as { recovered?: unknown; epoch?: unknown };
      options.onResumed?.({
        channel,
        recovered: result.recovered === true,
        epoch: typeof result.epoch === 'string' ? result.epoch : null,
      });
    } else if (counted(event) && tally[channel] !== undefined) {
      tally[channel]!++;
    }
  };

  // `state_change` comes before `connected`, on which pusher-js subscribes again: the resume goes first.
  const onStateChange = (change: { previous: string; current: string }) => {
    if (change.current !== 'connected' || token === undefined) return;
    const received: Record<string, number> = Object.create(null);
    let any = false;
    for (const channel of Object.keys(tally)) {
      if (client.channel(channel)) {
        received[channel] = tally[channel]!;
        any = true;
      } else {
        delete tally[channel];
      }
    }
    if (any) connection.send_event('herald:resume', { token, received });
  };

  connection.bind('message', onMessage as (payload: never) => void);
  connection.bind('state_change', onStateChange as (payload: never) => void);
  return {
    counts: () => Object.assign(Object.create(null), tally),
    detach() {
      connection.unbind('message', onMessage as (payload: never) => void);
      connection.unbind('state_change', onStateChange as (payload: never) => void);
    },
  };
}
