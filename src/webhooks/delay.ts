import { performance } from 'node:perf_hooks';
import type { App } from '../core/apps/app.js';
import type { TimedEvent } from '../core/webhook-outbox.js';

interface Pending {
  app: App;
  event: TimedEvent;
  /** `performance.now()` when it is released. */
  due: number;
  /** For a member removal: the key of its channel, so a vacate can release it first. */
  channelKey?: string;
  /** Taken over from another node: due on a timer of its own, not in insertion order. */
  own?: NodeJS.Timeout;
}

/** Told of every removal held and of every one that stops being held (released or cancelled). */
export interface DelayJournal {
  held(key: string, app: App, event: TimedEvent, dueAt: number): void;
  gone(key: string): void;
}

const channelKeyOf = (appId: string, channel: string) => `${appId}\n${channel}`;
const memberKey = (appId: string, channel: string, userId: string) => `${appId}\n${channel}\n${userId}`;

/**
 * Holds `channel_vacated` and `member_removed` back for `delayMs` (Pusher docs, Webhooks, "Webhook
 * request delay"). When the channel is occupied again, or the user joins again, within the delay, the
 * held removal is forgotten and the caller drops the re-add too: a page reload or a brief network drop
 * is invisible to the receiver (docs/webhooks.md, "The vacate delay").
 *
 * Removals are released in the order they were held, a channel's member removals before its vacate.
 * The delay is the same for every entry, so insertion order is due order and one timer suffices. Due
 * times use the monotonic clock: the wall clock may be pinned or jump.
 */
export class RemovalDelay {
  readonly #pending = new Map<string, Pending>();
  /** Channel key → member keys held for it. */
  readonly #members = new Map<string, Set<string>>();
  readonly #delayMs: number;
  readonly #release: (app: App, event: TimedEvent) => void;
  readonly #journal: DelayJournal | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(delayMs: number, release: (app: App, event: TimedEvent) => void, journal?: DelayJournal) {
    this.#delayMs = delayMs;
    this.#release = release;
    this.#journal = journal;
  }

  /** Removals held now. */
  get size(): number {
    return this.#pending.size;
  }

  channelVacated(app: App, channel: string, timeMs: number): void {
    this.#hold(channelKeyOf(app.id, channel), {
      app,
      event: { event: { name: 'channel_vacated', channel }, timeMs },
      due: performance.now() + this.#delayMs,
    });
  }

  memberRemoved(app: App, channel: string, userId: string, timeMs: number): void {
    const key = memberKey(app.id, channel, userId);
    const owner = channelKeyOf(app.id, channel);
    if (
      !this.#hold(key, {
        app,
        event: { event: { name: 'member_removed', channel, user_id: userId }, timeMs },
        due: performance.now() + this.#delayMs,
        channelKey: owner,
      })
    )
      return;
    this.#addMember(owner, key);
  }

  #addMember(owner: string, key: string): void {
    let members = this.#members.get(owner);
    if (!members) {
      members = new Set();
      this.#members.set(owner, members);
    }
    members.add(key);
  }

  /** True when a held `channel_vacated` was cancelled: the caller must not report the occupation. */
  channelOccupied(appId: string, channel: string): boolean {
    return this.#cancel(channelKeyOf(appId, channel));
  }

  /** True when a held `member_removed` was cancelled: the caller must not report the join. */
  memberAdded(appId: string, channel: string, userId: string): boolean {
    return this.#cancel(memberKey(appId, channel, userId));
  }

  /**
   * Holds a removal another node held until it died, until `dueInMs` from now; at once when that is
   * past. Ignored when the same removal is held here already.
   */
  adopt(key: string, app: App, event: TimedEvent, dueInMs: number): void {
    if (this.#pending.has(key)) return;
    const channelKey =
      event.event.name === 'member_removed' ? channelKeyOf(app.id, event.event.channel) : undefined;
    if (dueInMs <= 0) {
      if (channelKey === undefined) this.#releaseMembers(key);
      this.#release(app, event);
      return;
    }
    const pending: Pending = { app, event, due: performance.now() + dueInMs };
    if (channelKey !== undefined) pending.channelKey = channelKey;
    pending.own = setTimeout(() => {
      if (this.#pending.get(key) !== pending) return;
      if (channelKey === undefined) this.#releaseMembers(key);
      this.#forget(key, pending);
      this.#release(app, event);
    }, dueInMs);
    this.#pending.set(key, pending);
    this.#journal?.held(key, app, event, Date.now() + dueInMs);
    if (channelKey !== undefined) this.#addMember(channelKey, key);
  }

  /** Releases everything held now, in order (at shutdown: nobody will come back to this node). */
  releaseAll(): void {
    this.#releaseDue(Number.POSITIVE_INFINITY, true);
  }

  /** Forgets everything held and stops the timers. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const pending of this.#pending.values()) clearTimeout(pending.own);
    this.#pending.clear();
    this.#members.clear();
  }

  /** False when the key is already held (a repeated report keeps the first, earlier one). */
  #hold(key: string, pending: Pending): boolean {
    if (this.#pending.has(key)) return false;
    this.#pending.set(key, pending);
    this.#journal?.held(key, pending.app, pending.event, Date.now() + this.#delayMs);
    if (!this.#timer) this.#schedule();
    return true;
  }

  #cancel(key: string): boolean {
    const pending = this.#pending.get(key);
    if (!pending) return false;
    this.#forget(key, pending);
    return true;
  }

  #forget(key: string, pending: Pending): void {
    this.#pending.delete(key);
    clearTimeout(pending.own);
    this.#journal?.gone(key);
    if (pending.channelKey === undefined) return;
    const members = this.#members.get(pending.channelKey);
    members?.delete(key);
    if (members?.size === 0) this.#members.delete(pending.channelKey);
  }

  #schedule(): void {
    let head: Pending | undefined;
    for (const pending of this.#pending.values()) {
      if (pending.own) continue;
      head = pending;
      break;
    }
    if (!head) return;
    const wait = Math.max(0, Math.ceil(head.due - performance.now()));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // Timers may fire up to a millisecond before the due time they were set for.
      this.#releaseDue(performance.now() + 1);
    }, wait);
  }

  #releaseDue(until: number, adopted = false): void {
    for (const [key, pending] of this.#pending) {
      if (pending.own && !adopted) continue;
      if (pending.due > until) break;
      if (pending.channelKey === undefined) this.#releaseMembers(key);
      this.#forget(key, pending);
      this.#release(pending.app, pending.event);
    }
    if (!this.#timer) this.#schedule();
  }

  #releaseMembers(channelKeyOfVacate: string): void {
    const members = this.#members.get(channelKeyOfVacate);
    if (!members) return;
    for (const key of [...members]) {
      const pending = this.#pending.get(key);
      if (!pending) continue;
      this.#forget(key, pending);
      this.#release(pending.app, pending.event);
    }
  }
}
