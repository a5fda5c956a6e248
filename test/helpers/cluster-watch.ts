import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { GUARD_MS, type Node } from './cluster-node.js';
import type { Channel, PresenceChannel, Pusher } from './pusher-js.js';
import { within } from './raw-client.js';

/** Everything one channel of one pusher-js client received. */
export class Watch {
  readonly events: { event: string; data: unknown }[] = [];
  readonly #emitter = new EventEmitter();

  constructor(
    readonly name: string,
    readonly client: Pusher,
    readonly channel: Channel,
  ) {
    channel.bind_global((event: string, data: unknown) => {
      this.events.push({ event, data });
      this.#emitter.emit('event');
    });
  }

  /** Resolves with the data of the first event named `event` (already received or not) that matches. */
  next<T>(event: string, match: (data: T) => boolean = () => true): Promise<T> {
    const find = () => this.events.find((e) => e.event === event && match(e.data as T));
    const seen = find();
    if (seen) return Promise.resolve(seen.data as T);
    const arrived = new Promise<T>((resolve) => {
      const listener = () => {
        const e = find();
        if (!e) return;
        this.#emitter.off('event', listener);
        resolve(e.data as T);
      };
      this.#emitter.on('event', listener);
    });
    return within(arrived, GUARD_MS, `${this.name}: ${event}`);
  }

  all<T>(event: string): T[] {
    return this.events.filter((e) => e.event === event).map((e) => e.data as T);
  }

  /** User ids of member events of one kind, in arrival order. */
  members(event: 'pusher:member_added' | 'pusher:member_removed'): string[] {
    return this.all<{ id: string }>(event).map((m) => m.id);
  }
}

/** Subscribes and resolves once `pusher:subscription_succeeded` arrived. */
export async function subscribed(client: Pusher, channel: string, name: string): Promise<Watch> {
  const watch = new Watch(name, client, client.subscribe(channel));
  await watch.next('pusher:subscription_succeeded');
  return watch;
}

export const presenceIds = (watch: Watch) => {
  const ids: string[] = [];
  (watch.channel as PresenceChannel).members.each((m: { id: string }) => ids.push(m.id));
  return ids.sort();
};

/**
 * Triggers one `barrier` event through every node and waits until every watch got all of them. Each
 * node's messages reach each subscriber in the order the node sent them, so whatever a node published
 * before its barrier has arrived by then.
 */
export async function barrier(nodes: Node[], channel: string, watches: Watch[]): Promise<void> {
  const tag = randomUUID();
  for (const n of nodes) await n.sdk.trigger(channel, 'barrier', { tag, node: n.name });
  await Promise.all(
    watches.flatMap((w) =>
      nodes.map((n) =>
        w.next<{ tag: string; node: string }>('barrier', (d) => d.tag === tag && d.node === n.name),
      ),
    ),
  );
}
