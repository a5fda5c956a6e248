import type { Logger } from 'pino';
import type { Adapter, ChannelMessage } from '../../adapters/adapter.js';
import { busFields } from '../../adapters/bus-payload.js';
import type { App } from '../../core/apps/app.js';
import { streamRule } from '../../core/channel-history/rules.js';
import { type Release, StreamSequencer } from '../../core/channel-history/sequencer.js';
import type { ChannelHistory, HistoryPage, StreamPosition } from '../../core/channel-history/store.js';
import { Frame } from '../../core/frame.js';
import { type AppStates, namespaceOf } from './app-states.js';
import { encodeInternal } from './codec.js';
import type { AppState, SubscriptionRecovery, Succeeded } from './context.js';
import { PusherError, pusherError } from './errors.js';
import {
  newResumeToken,
  parseResume,
  parseResumeState,
  type ResumeState,
  resumeStateJson,
} from './resume.js';
import type { PusherSocket, Resumed } from './socket.js';
import { StreamTally } from './stream-tally.js';

/** The cluster operation that takes the resume state of a connection still open on some node. */
export const RESUME_OP = 'pusher.resume';

/** Events read from the store at a time while replaying; the socket drains between pages. */
const PAGE = 1000;
/** Live events one subscription holds back while it is answered; past it, it is no recovery. */
const MAX_HELD = 10_000;
/**
 * How long a channel's events wait for one missing before them (published through another node, still
 * on its way) before it is read from the store.
 */
const GAP_WAIT_MS = 200;
/** Events held per channel while one before them is missing; past it they are read from the store. */
const MAX_HELD_PER_CHANNEL = 1000;
/** Channels holding events at once; past it another's are read from the store. */
const MAX_CHANNELS_HOLDING = 1000;
/** The tally window of a channel that keeps no stream now (its rule was removed): the schema's most. */
const MAX_WINDOW = 100_000;

/** What recovering messages across reconnects needs of the server. */
export interface RecoveryParts {
  readonly history: ChannelHistory;
  readonly adapter: Pick<Adapter, 'request' | 'handle'>;
  readonly states: AppStates;
  readonly logger: Logger;
  /** As `SubscriptionsContext.answer`: a refusal, and the close of the closing ones. */
  answer(socket: PusherSocket, err: PusherError): void;
}

/**
 * Message recovery across reconnects on channels that keep a stream (docs/recovery.md): each
 * connection of an app with `history` gets a resume token (`herald:session`) and a tally per stream
 * channel of the events it was sent; a new connection that names the token in `herald:resume`, with
 * how many events it received on each channel, gets on each channel it subscribes to again what it
 * missed, in order and once, before `herald:resumed` and the live events held back meanwhile.
 */
export class Recovery implements SubscriptionRecovery {
  readonly #parts: RecoveryParts;
  /** Each channel's events in offset order, whichever node they were published through. */
  readonly #order = new StreamSequencer<ChannelMessage>({
    maxHeld: MAX_HELD_PER_CHANNEL,
    maxChannels: MAX_CHANNELS_HOLDING,
  });
  /** Channels waiting for a missing event, by sequencer key. */
  readonly #waits = new Map<string, NodeJS.Timeout>();
  /** Channels whose missing events are being read. */
  readonly #reading = new Set<string>();
  /**
   * The tallies of each stream channel's subscriptions here, by sequencer key: the fan-out looks each
   * subscriber's up in one table per channel rather than in one per connection.
   */
  readonly #tallies = new Map<string, Map<PusherSocket, StreamTally>>();
  /**
   * The first answers of channels whose order has no beginning here yet, by sequencer key. The order
   * begins at the earliest position they read, once the last of them has read: begun at a later one
   * (a reply that overtook another), it would pass over events an earlier one is to be sent.
   */
  readonly #openings = new Map<string, Opening>();

  constructor(parts: RecoveryParts) {
    this.#parts = parts;
    parts.adapter.handle(RESUME_OP, (p) => {
      const { appId, token } = busFields(RESUME_OP, p, { appId: 'string', token: 'string' });
      const state = parts.states.get(appId);
      const socket = state?.resumable.get(token);
      if (!state || !socket) return null;
      // Still open here (its client saw it break first): the newer connection takes its place.
      const json = resumeStateJson(this.#stateOf(socket));
      state.resumable.delete(token);
      socket.resumeToken = undefined;
      parts.answer(socket, pusherError('RESUMED_ELSEWHERE'));
      return json;
    });
  }

  /** After `pusher:connection_established`: the resume token, for apps with `history`. */
  opened(socket: PusherSocket, state: AppState): void {
    const history = state.app.history;
    if (history === null) return;
    const token = newResumeToken();
    socket.resumeToken = token;
    state.resumable.set(token, socket);
    const session = { resume_token: token, ttl: history.resumeTtlSeconds };
    socket.connection.send(new Frame(encodeInternal('herald:session', session)));
  }

  /**
   * A `herald:resume`: looks up the resumed connection's state, which the channels subscribed after
   * it use. Throws the `PusherError` that refuses it.
   */
  async resume(socket: PusherSocket, data: unknown): Promise<void> {
    const app = socket.app;
    if (socket.state !== 'open' || !app) return;
    if (app.history === null) throw pusherError('RESUME_UNAVAILABLE');
    if (socket.resumed) throw pusherError('RESUME_REPEATED');
    const request = parseResume(data, Math.max(app.maxSubscriptionsPerConnection ?? 1000, 100));
    if (request instanceof PusherError) throw request;
    const resumed: Resumed = { request, previous: undefined, answered: new Set<string>() };
    socket.resumed = resumed;
    if (request.token === socket.resumeToken) return;
    try {
      resumed.previous = await this.#take(app, request.token);
    } catch (err) {
      this.#parts.logger.error({ err, socketId: socket.id }, 'resume state could not be looked up');
    }
  }

  /** The state of the connection `token` resumes: taken from it if still open somewhere, else from the store. */
  async #take(app: App, token: string): Promise<ResumeState | undefined> {
    const window = (channel: string) => streamRule(app.history, channel)?.limits.maxEvents ?? MAX_WINDOW;
    const open = await this.#parts.adapter.request<unknown>(RESUME_OP, { appId: app.id, token });
    for (const answer of open.answers) {
      const state = parseResumeState(answer, window);
      if (state) return state;
    }
    const kept = await this.#parts.history.takeResumeState(namespaceOf(app.id), token);
    return parseResumeState(kept, window);
  }

  /**
   * The stream of a channel being subscribed to, when it keeps one: live events are held from now
   * until its answer (`answer`) has been sent.
   */
  open(socket: PusherSocket, app: App, channel: string): StreamTally | undefined {
    const rule = streamRule(app.history, channel);
    if (!rule) return undefined;
    const tally = new StreamTally(rule.limits.maxEvents);
    this.#track(socket, namespaceOf(app.id), channel, tally);
    return tally;
  }

  /** The subscription is gone (or never was). */
  close(socket: PusherSocket, channel: string): void {
    if (!socket.streams?.delete(channel) || !socket.app) return;
    this.#untrack(socket, namespaceOf(socket.app.id), channel);
  }

  /** `tally` counts what `socket` is sent on `channel`. */
  #track(socket: PusherSocket, namespace: string, channel: string, tally: StreamTally): void {
    socket.streams ??= new Map();
    socket.streams.set(channel, tally);
    // A connection that closed meanwhile was forgotten by `closed` already.
    if (socket.state === 'closed') return;
    const key = orderKey(namespace, channel);
    let tallies = this.#tallies.get(key);
    if (!tallies) {
      tallies = new Map();
      this.#tallies.set(key, tallies);
    }
    tallies.set(socket, tally);
  }

  #untrack(socket: PusherSocket, namespace: string, channel: string): void {
    const key = orderKey(namespace, channel);
    const tallies = this.#tallies.get(key);
    if (tallies?.delete(socket) && tallies.size === 0) this.#tallies.delete(key);
  }

  vacated(namespace: string, channel: string): void {
    this.#forget(orderKey(namespace, channel));
  }

  /**
   * Answers a new subscription to a stream channel: a recovery when the channel is one the
   * connection's `herald:resume` counted, else counting from the stream's position now.
   */
  async answer(
    socket: PusherSocket,
    app: App,
    channel: string,
    tally: StreamTally,
    succeeded: Succeeded,
  ): Promise<void> {
    const resumed = socket.resumed;
    const count = resumed?.request.received.get(channel);
    if (resumed === undefined || count === undefined || resumed.answered.has(channel)) {
      const opening = this.#opening(app, channel);
      let position: StreamPosition | undefined;
      let read = false;
      try {
        position = await this.#parts.history.position(namespaceOf(app.id), channel);
        read = true;
      } catch (err) {
        this.#parts.logger.error({ err, channel }, 'stream position could not be read');
        tally.lost = true;
      }
      if (!this.#current(socket, channel, tally))
        return this.#opened(app, channel, opening, false, undefined);
      tally.begin(position);
      this.#opened(app, channel, opening, read, position);
      await succeeded(true, () => tally.recordAtBase());
      return this.#live(socket, tally);
    }
    await this.#recover(socket, app, channel, tally, count, succeeded);
  }

  /** The same subscription again: its answer again, and the count (the client's too) from 0. */
  async again(socket: PusherSocket, channel: string, succeeded: Succeeded): Promise<void> {
    const before = socket.streams?.get(channel);
    if (!before || !socket.app) return succeeded(true);
    const tally = new StreamTally(before.window);
    this.#track(socket, namespaceOf(socket.app.id), channel, tally);
    tally.begin(before.epoch === null ? undefined : { epoch: before.epoch, offset: before.last });
    tally.lost = before.lost;
    await succeeded(true, () => tally.recordAtBase());
    this.#live(socket, tally);
  }

  /**
   * Answers a subscription to a channel that keeps no stream: when the connection's `herald:resume`
   * counted it, it is told that nothing was recovered.
   */
  unkept(socket: PusherSocket, channel: string): void {
    const resumed = socket.resumed;
    if (!resumed?.request.received.has(channel) || resumed.answered.has(channel)) return;
    resumed.answered.add(channel);
    this.#resumed(socket, channel, false, null);
  }

  /**
   * Replays what the client missed after the `count` events it received on the resumed connection:
   * the events after the offset that count maps to, skipping those the connections of the chain were
   * not to be sent. Anything that makes that impossible ends in `recovered: false`: no tally or token,
   * a count that maps to no offset, another epoch, events dropped, too many held meanwhile.
   */
  async #recover(
    socket: PusherSocket,
    app: App,
    channel: string,
    tally: StreamTally,
    count: number,
    succeeded: Succeeded,
  ): Promise<void> {
    const namespace = namespaceOf(app.id);
    const previous = socket.resumed?.previous;
    const before = previous?.channels.get(channel);
    const from = before?.offsetAt(count);
    const opening = this.#opening(app, channel);
    let page: HistoryPage | undefined;
    try {
      page =
        before && from !== undefined
          ? await this.#read(namespace, channel, before.epoch, from)
          : { position: await this.#parts.history.position(namespace, channel), events: [], complete: false };
    } catch (err) {
      this.#parts.logger.error({ err, channel }, 'stream could not be read');
    }
    if (!this.#current(socket, channel, tally)) return this.#opened(app, channel, opening, false, undefined);
    socket.resumed!.answered.add(channel);
    this.#opened(app, channel, opening, page !== undefined, page?.position);
    // A stream that is gone had nothing after the client's position when it received all it was sent:
    // one that got an event since the old connection closed would still be kept (`streamTtlMs`).
    const gone = page?.position === undefined && before !== undefined && count === before.count;
    const recovering = page !== undefined && from !== undefined && (page.complete || gone);
    if (!recovering) {
      tally.begin(page?.position);
      await succeeded(true, () => tally.recordAtBase());
      this.#resumed(socket, channel, false, tally.epoch);
      return this.#live(socket, tally);
    }
    tally.begin(before!.epoch === null ? undefined : { epoch: before!.epoch, offset: from });
    await succeeded(false);
    const skip = new Set([...previous!.socketIds, socket.id]);
    let recovered = true;
    for (;;) {
      for (const event of page!.events) {
        if (event.except !== undefined && skip.has(event.except)) continue;
        const position = { epoch: page!.position!.epoch, offset: event.offset };
        tally.record(position);
        socket.connection.send(new Frame(event.text));
      }
      const newest = page!.position?.offset ?? 0;
      if (page!.events.length === 0 || tally.last >= newest) break;
      await socket.connection.drained?.();
      if (!this.#current(socket, channel, tally)) return;
      if (tally.overflowed) {
        recovered = false;
        break;
      }
      try {
        page = await this.#read(namespace, channel, tally.epoch, page!.events.at(-1)!.offset);
      } catch (err) {
        this.#parts.logger.error({ err, channel }, 'stream could not be read');
        page = undefined;
      }
      if (!this.#current(socket, channel, tally)) return;
      if (!page?.complete) {
        recovered = false;
        break;
      }
    }
    this.#resumed(socket, channel, recovered && !tally.overflowed, tally.epoch);
    this.#live(socket, tally);
  }

  #read(namespace: string, channel: string, epoch: string | null, after: number): Promise<HistoryPage> {
    return this.#parts.history.read(namespace, channel, { epoch: epoch ?? undefined, offset: after }, PAGE);
  }

  /** Whether the subscription being answered is still there (the socket open, the channel held). */
  #current(socket: PusherSocket, channel: string, tally: StreamTally): boolean {
    return socket.state === 'open' && socket.streams?.get(channel) === tally;
  }

  #resumed(socket: PusherSocket, channel: string, recovered: boolean, epoch: string | null): void {
    socket.connection.send(new Frame(encodeInternal('herald:resumed', { recovered, epoch }, channel)));
  }

  /**
   * Sends the events held back while the subscription was answered, those after what it counted, and
   * goes live. Held events its position covers came before it, and were replayed or are older.
   */
  #live(socket: PusherSocket, tally: StreamTally): void {
    const held = tally.held ?? [];
    tally.held = undefined;
    for (const { position, frame } of held) if (tally.take(position)) socket.connection.send(frame);
  }

  /**
   * Delivers an event of a stream channel to the channel's subscribers here, in offset order: an event
   * that came before one published earlier through another node waits for it (see `StreamSequencer`).
   */
  deliver(state: AppState, message: ChannelMessage): void {
    const { namespace, channel, stream } = message;
    if (!stream) return this.#send(state, message);
    const key = orderKey(namespace, channel);
    if (state.registry.count(channel) === 0) return this.#forget(key);
    this.#ordered(state, channel, this.#order.offer(key, stream, message), false);
  }

  /** A subscription about to read where the channel's stream is: one of its first answers, unless it has an order. */
  #opening(app: App, channel: string): Opening | undefined {
    const key = orderKey(namespaceOf(app.id), channel);
    if (this.#order.begun(key)) return undefined;
    let opening = this.#openings.get(key);
    if (!opening) {
      opening = { pending: 0, read: false, position: undefined };
      this.#openings.set(key, opening);
    }
    opening.pending++;
    return opening;
  }

  /**
   * An answer read `position` (undefined: the channel has no stream), or nothing (`read` false: the
   * read failed, or the subscription is gone). The last of the first answers begins the channel's
   * order at the earliest position read; one after them finds it begun.
   */
  #opened(
    app: App,
    channel: string,
    opening: Opening | undefined,
    read: boolean,
    position: StreamPosition | undefined,
  ): void {
    if (opening === undefined) return;
    if (read && (!opening.read || before(position, opening.position))) {
      opening.read = true;
      opening.position = position;
    }
    if (--opening.pending > 0) return;
    const state = this.#parts.states.get(app.id);
    const key = orderKey(namespaceOf(app.id), channel);
    if (this.#openings.get(key) === opening) this.#openings.delete(key);
    if (!opening.read || !state || state.registry.count(channel) === 0) return;
    this.#ordered(state, channel, this.#order.begin(key, opening.position), false);
  }

  /**
   * Delivers what the sequencer released; when events are missing, reads them from the store after
   * the wait, at once when they were not held or a read made progress.
   */
  #ordered(state: AppState, channel: string, release: Release<ChannelMessage>, afterRead: boolean): void {
    const key = orderKey(state.namespace, channel);
    for (const message of release.deliver) this.#send(state, message, key);
    if (release.missing === undefined) return this.#stopWaiting(key);
    if (this.#reading.has(key)) return;
    if (release.missing === 'read' || (afterRead && release.deliver.length > 0)) {
      this.#stopWaiting(key);
      void this.#fill(state, channel);
    } else if (afterRead) {
      this.#ordered(state, channel, this.#order.settle(key), false);
    } else if (!this.#waits.has(key)) {
      const wait = setTimeout(() => {
        this.#waits.delete(key);
        void this.#fill(state, channel);
      }, GAP_WAIT_MS);
      this.#waits.set(key, wait);
    }
  }

  /** Reads a channel's missing events from the store (or settles a channel that has no beginning). */
  async #fill(state: AppState, channel: string): Promise<void> {
    const namespace = state.namespace;
    const key = orderKey(namespace, channel);
    const gap = this.#order.gap(key);
    if (!gap) return this.#ordered(state, channel, this.#order.settle(key), false);
    this.#reading.add(key);
    let release: Release<ChannelMessage>;
    try {
      const page = await this.#parts.history.read(
        namespace,
        channel,
        { epoch: gap.epoch, offset: gap.after },
        Math.min(gap.limit, PAGE),
      );
      release = this.#order.filled(key, page, (event, epoch) => ({
        namespace,
        channel,
        text: event.text,
        except: event.except,
        stream: { epoch, offset: event.offset },
      }));
    } catch (err) {
      this.#parts.logger.error({ err, channel }, 'missing stream events could not be read');
      release = this.#order.settle(key);
    } finally {
      this.#reading.delete(key);
    }
    this.#ordered(state, channel, release, true);
  }

  #stopWaiting(key: string): void {
    const wait = this.#waits.get(key);
    if (wait === undefined) return;
    clearTimeout(wait);
    this.#waits.delete(key);
  }

  #forget(key: string): void {
    this.#stopWaiting(key);
    this.#order.forget(key);
  }

  /**
   * Sends an event of a stream channel to the channel's subscribers here: counted by each
   * subscriber's tally, held while its subscription is answered, skipped where its position is
   * counted already.
   */
  #send(state: AppState, message: ChannelMessage, key = orderKey(state.namespace, message.channel)): void {
    const { channel, except, stream } = message;
    const frame = new Frame(message.text);
    const tallies = this.#tallies.get(key);
    for (const socket of state.registry.subscribers(channel)) {
      if (socket.id === except) continue;
      const tally = tallies?.get(socket);
      if (tally === undefined) {
        socket.connection.send(frame);
      } else if (!stream) {
        tally.lost = true;
        socket.connection.send(frame);
      } else if (tally.held) {
        // Never dropped: past MAX_HELD a recovery being answered gives up at its next page.
        tally.held.push({ position: stream, frame });
        if (tally.held.length > MAX_HELD) tally.overflowed = true;
      } else if (tally.take(stream)) {
        socket.connection.send(frame);
      }
    }
  }

  /** A connection closed: its resume state is kept for the app's `resumeTtlSeconds`. */
  closed(socket: PusherSocket, state: AppState): void {
    // Its counts stop here (what resumes it is taken now); its subscriptions may not be closed one by
    // one (a handover), so the fan-out forgets them at once.
    for (const channel of socket.streams?.keys() ?? []) this.#untrack(socket, state.namespace, channel);
    const token = socket.resumeToken;
    const history = state.app.history;
    if (token === undefined) return;
    socket.resumeToken = undefined;
    state.resumable.delete(token);
    if (history === null) return;
    const json = resumeStateJson(this.#stateOf(socket));
    const ttlMs = history.resumeTtlSeconds * 1000;
    this.#parts.history.saveResumeState(state.namespace, token, json, ttlMs).catch((err) => {
      this.#parts.logger.error({ err, socketId: socket.id }, 'resume state could not be kept');
    });
  }

  /**
   * What resumes `socket`: its tallies of the channels whose answer began, and the resumed connection's
   * tallies of the channels it counted that this one has not subscribed to again (the client's counts
   * of those are unchanged).
   */
  #stateOf(socket: PusherSocket): ResumeState {
    const channels = new Map<string, StreamTally>();
    for (const [channel, tally] of socket.streams ?? []) if (tally.begun) channels.set(channel, tally);
    const resumed = socket.resumed;
    for (const [channel, tally] of resumed?.previous?.channels ?? []) {
      if (resumed!.request.received.has(channel) && !resumed!.answered.has(channel) && !channels.has(channel))
        channels.set(channel, tally);
    }
    return { socketIds: [...(resumed?.previous?.socketIds ?? []), socket.id], channels };
  }
}

/** The first answers of a channel without an order here (`Recovery.#openings`). */
interface Opening {
  /** Answers still reading. */
  pending: number;
  /** Whether one read a position. */
  read: boolean;
  /** The earliest position read. */
  position: StreamPosition | undefined;
}

/**
 * Whether position `a` comes before `b`: no stream comes before any; of one epoch, the lower offset;
 * of two epochs, neither (the first read stands).
 */
function before(a: StreamPosition | undefined, b: StreamPosition | undefined): boolean {
  if (a === undefined) return b !== undefined;
  return b !== undefined && a.epoch === b.epoch && a.offset < b.offset;
}

/** A channel's key in the sequencer. */
function orderKey(namespace: string, channel: string): string {
  return `${namespace}\0${channel}`;
}
