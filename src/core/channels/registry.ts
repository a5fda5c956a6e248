import type { Connection } from '../connection.js';
import type { Frame } from '../frame.js';
import { SetMap } from '../set-map.js';
import type { ChannelName } from './names.js';

const NONE: readonly never[] = [];

/** Something that can receive a channel's frames on this node. */
export interface Subscriber {
  readonly id: string;
  readonly connection: Connection;
}

/**
 * This node's subscriptions for one namespace: channel → subscribers. Fan-out walks one set and
 * hands the same frame to each member.
 */
export class ChannelRegistry<S extends Subscriber = Subscriber> {
  readonly #channels = new SetMap<ChannelName, S>();

  /** Adds a subscriber; true when it is the channel's first one on this node. */
  add(channel: ChannelName, subscriber: S): boolean {
    return this.#channels.add(channel, subscriber);
  }

  /** Removes a subscriber; true when it was the channel's last one on this node. */
  remove(channel: ChannelName, subscriber: S): boolean {
    return this.#channels.remove(channel, subscriber);
  }

  /** Sends `frame` to every subscriber of `channel` except the one whose id is `exceptId`. */
  deliver(channel: ChannelName, frame: Frame, exceptId?: string): number {
    const set = this.#channels.get(channel);
    if (!set) return 0;
    let sent = 0;
    for (const s of set) {
      if (s.id === exceptId) continue;
      s.connection.send(frame);
      sent++;
    }
    return sent;
  }

  /** The channel's subscribers on this node, to walk without changing them. */
  subscribers(channel: ChannelName): Iterable<S> {
    return this.#channels.get(channel) ?? NONE;
  }

  count(channel: ChannelName): number {
    return this.#channels.get(channel)?.size ?? 0;
  }

  channels(): IterableIterator<ChannelName> {
    return this.#channels.keys();
  }

  get size(): number {
    return this.#channels.size;
  }
}
