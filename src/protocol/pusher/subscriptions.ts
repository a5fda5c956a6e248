import type { App } from '../../core/apps/app.js';
import { channelKind, channelNameProblem } from '../../core/channels/names.js';
import { Frame } from '../../core/frame.js';
import { KeyedChain } from '../../core/keyed-chain.js';
import type { JoinResult, PresenceMember } from '../../core/presence/store.js';
import { encodeChannelEvent, encodeInternal, encodeObjectEvent, objectData } from './codec.js';
import type { AppState, SubscriptionsContext, SubscriptionsOptions, Succeeded } from './context.js';
import { subscriptionError } from './errors.js';
import type { PusherSocket } from './socket.js';
import type { StreamTally } from './stream-tally.js';
import { type AcceptedSubscription, admission, checkSubscription } from './subscription.js';
import { SubscriptionCountNotifier } from './subscription-count.js';

/**
 * Subscribing and unsubscribing (Pusher docs, Channels protocol and Authorizing users): checks,
 * presence membership and its events, cache channel replay, subscription counts, and the adapter's
 * interest in each channel.
 */
export class Subscriptions {
  readonly #ctx: SubscriptionsContext;
  readonly #adapter: SubscriptionsOptions['adapter'];
  readonly #presence: SubscriptionsOptions['presence'];
  readonly #cache: SubscriptionsOptions['cache'];
  readonly #occupancyStore: SubscriptionsOptions['occupancy'];
  readonly #memory: SubscriptionsOptions['memory'];
  readonly #logger: SubscriptionsOptions['logger'];
  readonly #counts: SubscriptionCountNotifier;
  readonly #countApps = new Map<string, AppState>();
  /** Interest being added for a channel (`namespace\nchannel`), awaited by every new subscriber. */
  readonly #interest = new Map<string, Promise<void>>();
  /**
   * Per channel (`namespace\nchannel`), its webhook reports still being made (an occupancy decision
   * may wait for the cluster's store): the next report waits for them, so that the receiver hears a
   * channel's events in the order they happened here.
   */
  readonly #reports = new KeyedChain();

  constructor(ctx: SubscriptionsContext) {
    this.#ctx = ctx;
    const { adapter, presence, cache, occupancy, memory, logger } = ctx.options;
    this.#adapter = adapter;
    this.#presence = presence;
    this.#cache = cache;
    this.#occupancyStore = occupancy;
    this.#memory = memory;
    this.#logger = logger;
    this.#counts = new SubscriptionCountNotifier(
      (namespace, channel) => this.#countApps.get(namespace)?.registry.count(channel) ?? 0,
      (namespace, channel) => {
        const state = this.#countApps.get(namespace);
        if (!state) return;
        ctx.track(
          this.#announceCount(state, channel).catch((err) => {
            logger.error({ err, channel }, 'subscription count not announced');
          }),
        );
      },
      ctx.now,
    );
  }

  close(): void {
    this.#counts.close();
  }

  /**
   * The cluster-wide count, to the channel's subscribers on every node and to webhooks (docs/pusher.md,
   * "Subscription counts").
   */
  async #announceCount(state: AppState, channel: string): Promise<void> {
    const count = await this.#ctx.queries.subscriptions(state.app, channel);
    if (count === 0) return;
    const text = encodeInternal('pusher_internal:subscription_count', { subscription_count: count }, channel);
    await this.#adapter.publish({ namespace: state.namespace, channel, text });
    this.#ctx.events.subscriptionCount(state.app, channel, count);
  }

  /**
   * A `pusher:subscribe`. A channel the socket does not hold yet must first pass `admission` (the
   * per-connection limit, the memory ceiling), before any signature, presence, registry or broker
   * work is done for it. Subscribes that passed and have not finished count as held, so that a burst
   * sent before any answer cannot overshoot the limit.
   */
  async subscribe(socket: PusherSocket, data: unknown): Promise<void> {
    const app = socket.app;
    if (socket.state !== 'open' || !app) return;
    const channel = objectData(data)?.channel;
    // Malformed requests and held channels get their usual answer; only a new channel takes a slot.
    const asIs =
      typeof channel !== 'string' ||
      socket.channels.has(channel) ||
      channelNameProblem(channel, app.maxChannelNameLength) !== undefined;
    if (asIs) return this.#subscribe(socket, app, data);
    const held = socket.channels.size + socket.subscribing;
    const refused = admission(app, channel, held, this.#memory?.over === true);
    if (refused) return this.#ctx.answer(socket, refused);
    socket.subscribing++;
    try {
      await this.#subscribe(socket, app, data);
    } finally {
      socket.subscribing--;
    }
  }

  async #subscribe(socket: PusherSocket, app: App, data: unknown): Promise<void> {
    const check = checkSubscription(app, socket.id, data, socket.user, this.#ctx.now());
    if (!check.ok) return this.#ctx.answer(socket, check);
    const { channel, member } = check;
    const state = this.#ctx.state(app);
    if (socket.channels.has(channel)) {
      // Idempotent: the same answer again.
      const members = member ? await this.#members(socket, state, channel) : undefined;
      if (members === null) return;
      const succeeded: Succeeded = (cache, counted) =>
        this.#succeeded(socket, app, check, members, cache, counted);
      const recovery = this.#ctx.recovery;
      if (recovery) await recovery.again(socket, channel, succeeded);
      else await succeeded(true);
      return;
    }

    const presence = this.#presence;
    let joined: JoinResult | undefined;
    let members: PresenceMember[] | undefined;
    if (member) {
      try {
        joined = await presence.join(state.namespace, channel, socket.id, member, app.maxPresenceMembers);
      } catch (err) {
        return this.#unavailable(socket, channel, err, 'presence store could not record the member');
      }
      if (joined === 'full') {
        const full = subscriptionError('PRESENCE_CHANNEL_FULL', channel, channel, app.maxPresenceMembers);
        return this.#ctx.answer(socket, full);
      }
      const listed = socket.state === 'open' ? await this.#members(socket, state, channel) : null;
      if (listed === null) return this.#forget(state, channel, socket.id, member.userId);
      members = listed;
    }

    socket.channels.set(channel, member ? member.userId : null);
    // Before the registry: live events are held from there until the answer is sent.
    const stream = this.#ctx.recovery?.open(socket, app, channel);
    try {
      await this.#register(socket, app, state, channel);
    } catch (err) {
      socket.channels.delete(channel);
      this.#ctx.recovery?.close(socket, channel);
      if (member) await this.#forget(state, channel, socket.id, member.userId);
      return this.#unavailable(socket, channel, err, 'adapter could not add interest');
    }
    await this.#answer(socket, app, check, members, stream);
    const feed = this.#ctx.feed;
    if (feed?.watched(state.namespace))
      feed.report(state.namespace, { type: 'subscribed', channel, socketId: socket.id });
    if (member && joined === 'added') {
      const { userId } = member;
      this.#report(state, channel, () => this.#ctx.events.memberAdded(app, channel, userId));
      const text = encodeInternal(
        'pusher_internal:member_added',
        { user_id: member.userId, user_info: member.info },
        channel,
      );
      await this.#adapter.publish({
        namespace: state.namespace,
        channel,
        text,
        except: socket.id,
      });
    }
  }

  /** The channel's members for `subscription_succeeded`; null (and the client told) when the store failed. */
  async #members(socket: PusherSocket, state: AppState, channel: string): Promise<PresenceMember[] | null> {
    try {
      return await this.#presence.members(state.namespace, channel);
    } catch (err) {
      this.#unavailable(socket, channel, err, 'presence store could not list the members');
      return null;
    }
  }

  /** Takes back a membership that was never announced. */
  async #forget(state: AppState, channel: string, socketId: string, userId: string): Promise<void> {
    await this.#presence.leave(state.namespace, channel, socketId, userId).catch((err) => {
      this.#logger.error({ err, channel }, 'presence store could not forget the member');
    });
  }

  async unsubscribeRequest(socket: PusherSocket, data: unknown): Promise<void> {
    const channel = objectData(data)?.channel;
    if (socket.state !== 'open' || !socket.app || typeof channel !== 'string') return;
    await this.unsubscribe(socket, socket.app, channel);
  }

  /** Removes one subscription; also used for every channel of a closed connection. */
  async unsubscribe(socket: PusherSocket, app: App, channel: string): Promise<void> {
    if (!socket.channels.has(channel)) return;
    const userId = socket.channels.get(channel);
    socket.channels.delete(channel);
    this.#ctx.recovery?.close(socket, channel);
    const state = this.#ctx.state(app);
    const adapter = this.#adapter;
    const vacated = state.registry.remove(channel, socket);
    const feed = this.#ctx.feed;
    if (feed?.watched(state.namespace))
      feed.report(state.namespace, { type: 'unsubscribed', channel, socketId: socket.id });
    if (vacated) {
      this.#ctx.recovery?.vacated(state.namespace, channel);
      adapter.removeInterest(state.namespace, channel).catch((err) => {
        this.#logger.error({ err, channel }, 'adapter could not remove interest');
      });
    }
    this.#countChanged(app, state, channel);
    if (userId != null && (await this.#presence.leave(state.namespace, channel, socket.id, userId))) {
      const text = encodeInternal('pusher_internal:member_removed', { user_id: userId }, channel);
      await adapter.publish({ namespace: state.namespace, channel, text, except: socket.id });
      this.#report(state, channel, () => this.#ctx.events.memberRemoved(app, channel, userId));
    }
    if (vacated && !channelKind(channel).user) {
      this.#report(state, channel, () => this.#occupancy(app, state, channel, false));
    }
  }

  /** Forgets the socket's subscriptions on this node only: the shared store keeps them (a handover). */
  release(socket: PusherSocket, app: App): void {
    const state = this.#ctx.state(app);
    for (const channel of socket.channels.keys()) state.registry.remove(channel, socket);
    socket.channels.clear();
  }

  /**
   * Adds the socket to the local registry. The first local subscriber makes the adapter subscribe the
   * node to the channel; every subscriber waits for that, and all of them are rolled back (and the
   * error thrown) when the broker refuses.
   */
  async #register(socket: PusherSocket, app: App, state: AppState, channel: string): Promise<void> {
    const key = `${state.namespace}\n${channel}`;
    if (state.registry.add(channel, socket)) {
      const pending = this.#adapter.addInterest(state.namespace, channel);
      this.#interest.set(key, pending);
      try {
        await pending;
      } catch (err) {
        state.registry.remove(channel, socket);
        throw err;
      } finally {
        if (this.#interest.get(key) === pending) this.#interest.delete(key);
      }
      if (!channelKind(channel).user) {
        // The store's answer may take a while (or an outage): the subscriber does not wait for it,
        // the channel's later reports do.
        this.#report(state, channel, () => this.#occupancy(app, state, channel, true));
      }
    } else {
      const pending = this.#interest.get(key);
      if (pending) {
        try {
          await pending;
        } catch (err) {
          state.registry.remove(channel, socket);
          throw err;
        }
      }
    }
    this.#countChanged(app, state, channel);
  }

  /**
   * Makes one of the channel's webhook reports after those still being made; at once (synchronously)
   * when there are none and the report needs no waiting.
   */
  #report(state: AppState, channel: string, report: () => void | Promise<void>): void {
    const run = this.#reports.run(`${state.namespace}\n${channel}`, report).catch((err: unknown) => {
      this.#logger.error({ err, channel }, 'webhook report failed');
    });
    this.#ctx.track(run);
  }

  /** Reports this node's first or last subscriber; the store says whether the whole cluster changed. */
  #occupancy(app: App, state: AppState, channel: string, occupied: boolean): Promise<void> | undefined {
    const store = this.#occupancyStore;
    if (!store) {
      if (occupied) this.#ctx.events.channelOccupied(app, channel);
      else this.#ctx.events.channelVacated(app, channel);
      return undefined;
    }
    const decided = occupied
      ? store.occupy(state.namespace, channel)
      : store.vacate(state.namespace, channel);
    return decided.then(
      (changed) => {
        if (!changed) return;
        if (occupied) this.#ctx.events.channelOccupied(app, channel);
        else this.#ctx.events.channelVacated(app, channel);
      },
      (err) => this.#logger.error({ err, channel }, 'occupancy not recorded'),
    );
  }

  #countChanged(app: App, state: AppState, channel: string): void {
    const kind = channelKind(channel);
    if (!app.subscriptionCount || kind.presence || kind.user) return;
    this.#countApps.set(state.namespace, state);
    this.#counts.changed(state.namespace, channel);
  }

  /**
   * The answer to a new subscription; on a channel that keeps a stream, the recovery's (a replay for
   * a connection that resumes another, docs/recovery.md).
   */
  async #answer(
    socket: PusherSocket,
    app: App,
    check: AcceptedSubscription,
    members: readonly PresenceMember[] | undefined,
    stream: StreamTally | undefined,
  ): Promise<void> {
    const recovery = this.#ctx.recovery;
    const succeeded: Succeeded = (cache, counted) =>
      this.#succeeded(socket, app, check, members, cache, counted);
    if (recovery && stream) return recovery.answer(socket, app, check.channel, stream, succeeded);
    await succeeded(true);
    recovery?.unkept(socket, check.channel);
  }

  /**
   * Sends `subscription_succeeded` and, with `cache`, a cache channel's last event (calling `counted`
   * as it does) or `cache_miss`.
   */
  async #succeeded(
    socket: PusherSocket,
    app: App,
    check: AcceptedSubscription,
    members: readonly PresenceMember[] | undefined,
    cache: boolean,
    counted?: () => void,
  ): Promise<void> {
    const { channel, kind } = check;
    const namespace = this.#ctx.state(app).namespace;
    let data: unknown = {};
    if (members) {
      // User ids are the client's strings: `__proto__` must be a key like any other, not the prototype.
      const hash = Object.fromEntries(members.map((m) => [m.userId, m.info]));
      data = { presence: { ids: members.map((m) => m.userId), hash, count: members.length } };
    }
    socket.connection.send(
      new Frame(encodeInternal('pusher_internal:subscription_succeeded', data, channel)),
    );
    if (!kind.cache || !cache) return;
    // Right after subscription_succeeded: the last event, or word that there is none (Pusher docs,
    // Cache channels).
    const cached = await this.#cache.get(namespace, channel);
    const text = cached
      ? encodeChannelEvent(cached.event.event, channel, cached.event.data)
      : encodeObjectEvent('pusher:cache_miss', undefined, channel);
    socket.connection.send(new Frame(text));
    if (cached) counted?.();
    else this.#ctx.events.cacheMiss(app, channel);
  }

  /** The subscription failed on our side (store or broker): the client hears it, and may retry. */
  #unavailable(socket: PusherSocket, channel: string, err: unknown, what: string): void {
    this.#logger.error({ err, channel, socketId: socket.id }, what);
    this.#ctx.answer(socket, subscriptionError('SUBSCRIPTION_UNAVAILABLE', channel, channel));
  }
}
