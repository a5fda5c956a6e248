import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { OutboxEntry, WebhookOutbox } from '../../src/core/webhook-outbox.js';
import { type StoreHarness, storeFixture } from './store-harness.js';

/**
 * The `WebhookOutbox` contract: a node's entries are kept until removed or cleared, and a dead node's
 * entries go to exactly one of the survivors that take them over.
 */

export type OutboxHarness = StoreHarness<WebhookOutbox>;

const held = (user: string): OutboxEntry => ({
  kind: 'held',
  key: `app\npresence-room\n${user}`,
  appId: 'app',
  event: {
    event: { name: 'member_removed', channel: 'presence-room', user_id: user },
    timeMs: 1_700_000_000_000,
  },
  dueAt: 1_700_000_005_000,
});

const delivery = (id: string): OutboxEntry => ({
  kind: 'delivery',
  delivery: {
    id,
    lane: 'app\n0\nhttp://127.0.0.1:9/hook',
    appId: 'app',
    url: 'http://127.0.0.1:9/hook',
    headers: { 'Content-Type': 'application/json', 'X-Pusher-Key': 'key' },
    body: '{"time_ms":1,"events":[]}',
    channels: ['presence-room'],
    events: 1,
    queuedAt: 1_700_000_000_000,
  },
});

const idOf = (e: OutboxEntry) => (e.kind === 'held' ? e.key : e.delivery.id);
const sorted = (entries: OutboxEntry[]) => [...entries].sort((a, b) => idOf(a).localeCompare(idOf(b)));

export function outboxContract(harness: OutboxHarness): void {
  describe(`WebhookOutbox contract: ${harness.name}`, { skip: harness.skip }, () => {
    const { store } = storeFixture(harness);

    test('a survivor takes over what a node put and did not remove, once', async () => {
      const deadId = randomUUID();
      const dead = store(deadId);
      const survivor = store();
      const kept = [held('alice'), delivery(randomUUID())];
      const removed = delivery(randomUUID());
      for (const e of [...kept, removed]) await dead.put(idOf(e), e);
      await dead.remove(idOf(removed));
      assert.deepEqual(sorted(await survivor.takeOver(deadId)), sorted(kept));
      assert.deepEqual(await survivor.takeOver(deadId), [], 'taken once');
    });

    test('putting an id again replaces its entry', async () => {
      const deadId = randomUUID();
      const dead = store(deadId);
      const first = held('bob');
      const again = { ...held('bob'), dueAt: first.kind === 'held' ? first.dueAt + 1000 : 0 } as OutboxEntry;
      await dead.put(idOf(first), first);
      await dead.put(idOf(again), again);
      assert.deepEqual(await store().takeOver(deadId), [again]);
    });

    test('clear forgets the node’s entries, and only its own', async () => {
      const [aId, bId] = [randomUUID(), randomUUID()];
      const [a, b] = [store(aId), store(bId)];
      await a.put('x', delivery('x'));
      await b.put('x', delivery('x'));
      await a.clear();
      assert.deepEqual(await store().takeOver(aId), []);
      assert.deepEqual(await store().takeOver(bId), [delivery('x')]);
    });

    test('two survivors taking over at once share the entries without overlap', async () => {
      const deadId = randomUUID();
      const dead = store(deadId);
      const entries = Array.from({ length: 40 }, (_, i) => (i % 2 ? held(`u${i}`) : delivery(`d${i}`)));
      for (const e of entries) await dead.put(idOf(e), e);
      const [one, two] = await Promise.all([store().takeOver(deadId), store().takeOver(deadId)]);
      assert.deepEqual(sorted([...one, ...two]), sorted(entries));
    });
  });
}
