import type { App } from '../../core/apps/app.js';
import { channelKind } from '../../core/channels/names.js';
import { Frame } from '../../core/frame.js';
import { encodeChannelEvent, encodeInternal, encodeObjectEvent, objectData } from './codec.js';
import type { AppState, PusherContext } from './context.js';
import type { PusherSocket } from './socket.js';
import { type AcceptedSubscription, checkSubscription, type RefusedSubscription } from './subscription.js';
import { SubscriptionCountNotifier } from './subscription-count.js';

/**
 * Subscribing and unsubscribing (spec §2, §3): checks, presence membership and its events, cache
 * channel replay, subscription counts, and the adapter's interest in each channel.
 */
export class Subscriptions {
  readonly #ctx: PusherContext;
  readonly #counts: SubscriptionCountNotifier;
  readonly #countApps = new Map<string, AppState>();

  constructor(ctx: PusherContext) {
    this.#ctx = ctx;
    this.#counts = new SubscriptionCountNotifier(
      (namespace, channel) => this.#countApps.get(namespace)?.registry.count(channel) ?? 0,
      (namespace, channel) => {
        const state = this.#countApps.get(namespace);
        if (!state) return;
        ctx.track(
          this.#announceCount(state, channel).catch((err) => {
            ctx.options.logger.error({ err, channel }, 'subscription count not announced');
          }),
        );
      },
      ctx.now,
    );
  }

  close(): void {
    this.#counts.close();
  }

  /** The cluster-wide count, to the channel's subscribers on every node and to webhooks (spec §2.8). */
  async #announceCount(state: AppState, channel: string): Promise<void> {
    const count = await this.#ctx.subscriptions(state.app, channel);
    if (count === 0) return;
    const text = encodeInternal('pusher_internal:subscription_count', { subscription_count: count }, channel);
    await this.#ctx.options.adapter.publish({ namespace: state.namespace, channel, text });
    this.#ctx.events.subscriptionCount(state.app, channel, count);
  }

  async subscribe(socket: PusherSocket, data: unknown): Promise<void> {
    const app = socket.app;
    if (socket.state !== 'open' || !app) return;
    const check = checkSubscription(app, socket.id, data, socket.user);
    if (!check.ok) return this.#refuse(socket, check);
    const { channel } = check;
    if (socket.channels.has(channel)) return this.#succeeded(socket, app, check); // idempotent

    const state = this.#ctx.state(app);
    const { presence } = this.#ctx.options;
    if (check.member) {
      const joined = await presence.join(
        state.namespace,
        channel,
        socket.id,
        check.member,
        app.maxPresenceMembers,
      );
      if (joined === 'full') {
        return this.#refuse(socket, {
          ok: false,
          channel,
          type: 'LimitReached',
          error: `Presence channel ${channel} is full (${app.maxPresenceMembers} members)`,
          status: 403,
        });
      }
      if (socket.state !== 'open') {
        await presence.leave(state.namespace, channel, socket.id, check.member.userId);
        return;
      }
      socket.channels.set(channel, check.member.userId);
      this.#register(socket, app, state, channel);
      await this.#succeeded(socket, app, check);
      if (joined === 'added') {
        this.#ctx.events.memberAdded(app, channel, check.member.userId);
        const text = encodeInternal(
          'pusher_internal:member_added',
          { user_id: check.member.userId, user_info: check.member.info },
          channel,
        );
        await this.#ctx.options.adapter.publish({
          namespace: state.namespace,
          channel,
          text,
          except: socket.id,
        });
      }
      return;
    }
    socket.channels.set(channel, null);
    this.#register(socket, app, state, channel);
    await this.#succeeded(socket, app, check);
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
    const state = this.#ctx.state(app);
    const { adapter, presence, logger } = this.#ctx.options;
    const vacated = state.registry.remove(channel, socket);
    if (vacated) {
      adapter.removeInterest(state.namespace, channel).catch((err) => {
        logger.error({ err, channel }, 'adapter could not remove interest');
      });
    }
    this.#countChanged(app, state, channel);
    if (userId != null && (await presence.leave(state.namespace, channel, socket.id, userId))) {
      const text = encodeInternal('pusher_internal:member_removed', { user_id: userId }, channel);
      await adapter.publish({ namespace: state.namespace, channel, text, except: socket.id });
      this.#ctx.events.memberRemoved(app, channel, userId);
    }
    if (vacated && !channelKind(channel).user) this.#occupancy(app, state, channel, false);
  }

  #register(socket: PusherSocket, app: App, state: AppState, channel: string): void {
    if (state.registry.add(channel, socket)) {
      const { adapter, logger } = this.#ctx.options;
      adapter.addInterest(state.namespace, channel).catch((err) => {
        logger.error({ err, channel }, 'adapter could not add interest');
      });
      if (!channelKind(channel).user) this.#occupancy(app, state, channel, true);
    }
    this.#countChanged(app, state, channel);
  }

  /** Reports this node's first or last subscriber; the store says whether the whole cluster changed. */
  #occupancy(app: App, state: AppState, channel: string, occupied: boolean): void {
    const store = this.#ctx.options.occupancy;
    if (!store) {
      if (occupied) this.#ctx.events.channelOccupied(app, channel);
      else this.#ctx.events.channelVacated(app, channel);
      return;
    }
    const decided = occupied
      ? store.occupy(state.namespace, channel)
      : store.vacate(state.namespace, channel);
    this.#ctx.track(
      decided.then(
        (changed) => {
          if (!changed) return;
          if (occupied) this.#ctx.events.channelOccupied(app, channel);
          else this.#ctx.events.channelVacated(app, channel);
        },
        (err) => this.#ctx.options.logger.error({ err, channel }, 'occupancy not recorded'),
      ),
    );
  }

  #countChanged(app: App, state: AppState, channel: string): void {
    const kind = channelKind(channel);
    if (!app.subscriptionCount || kind.presence || kind.user) return;
    this.#countApps.set(state.namespace, state);
    this.#counts.changed(state.namespace, channel);
  }

  async #succeeded(socket: PusherSocket, app: App, check: AcceptedSubscription): Promise<void> {
    const { channel, kind, member } = check;
    const namespace = this.#ctx.state(app).namespace;
    let data: unknown = {};
    if (member) {
      const members = await this.#ctx.options.presence.members(namespace, channel);
      const hash: Record<string, unknown> = {};
      for (const m of members) hash[m.userId] = m.info;
      data = { presence: { ids: members.map((m) => m.userId), hash, count: members.length } };
    }
    socket.connection.send(
      new Frame(encodeInternal('pusher_internal:subscription_succeeded', data, channel)),
    );
    if (kind.cache) {
      // Right after subscription_succeeded: the last event, or word that there is none (spec §2.7).
      const cached = await this.#ctx.options.cache.get(namespace, channel);
      const text = cached
        ? encodeChannelEvent(cached.event.event, channel, cached.event.data)
        : encodeObjectEvent('pusher:cache_miss', undefined, channel);
      socket.connection.send(new Frame(text));
      if (!cached) this.#ctx.events.cacheMiss(app, channel);
    }
  }

  #refuse(socket: PusherSocket, refusal: RefusedSubscription): void {
    const { channel, type, error, status } = refusal;
    if (channel !== undefined) {
      const text = encodeObjectEvent('pusher:subscription_error', { type, error, status }, channel);
      socket.connection.send(new Frame(text));
    }
    this.#ctx.error(socket, null, error);
  }
}
