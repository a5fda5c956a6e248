import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { Adapter, NodeId, RequestHandler, RequestResult } from '../../../src/adapters/adapter.js';
import { MalformedBusMessage } from '../../../src/adapters/bus-payload.js';
import { appSchema, webhooksSchema } from '../../../src/config/schema.js';
import type { App, AppStore } from '../../../src/core/apps/app.js';
import type { OutboxEntry, WebhookOutbox } from '../../../src/core/webhook-outbox.js';
import { clusterWebhooks } from '../../../src/webhooks/cluster.js';

const CANCEL_HELD = 'webhooks.cancel-held';
const logger = pino({ level: 'silent' });
const APP = appSchema.parse({
  id: 'a1',
  key: 'k1',
  secret: 's1',
  webhooks: [{ url: 'http://receiver.test/hook' }],
});

/** A node alone (its requests ask only itself) whose node-down handlers the test calls. */
class TestAdapter implements Adapter {
  readonly nodeId = 'n1';
  readonly peers: NodeId[] = [];
  readonly handlers = new Map<string, RequestHandler>();
  readonly downHandlers: ((nodeId: NodeId) => void)[] = [];

  handle(op: string, handler: RequestHandler): void {
    this.handlers.set(op, handler);
  }
  async request<T>(op: string, payload: unknown): Promise<RequestResult<T>> {
    const handler = this.handlers.get(op);
    return { answers: handler ? [(await handler(payload)) as T] : [], complete: true };
  }
  onNodeDown(handler: (nodeId: NodeId) => void): void {
    this.downHandlers.push(handler);
  }
  onMessage(): void {}
  async publish(): Promise<void> {}
  async addInterest(): Promise<void> {}
  async removeInterest(): Promise<void> {}
  async broadcast(): Promise<void> {}
  async start(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Records this node's entries; a dead node's are `left`. */
class TestOutbox implements WebhookOutbox {
  readonly entries = new Map<string, OutboxEntry>();
  readonly takenOver: string[] = [];
  constructor(readonly left: OutboxEntry[] = []) {}
  async put(id: string, entry: OutboxEntry) {
    this.entries.set(id, entry);
  }
  async remove(id: string) {
    this.entries.delete(id);
  }
  async clear() {
    this.entries.clear();
  }
  async takeOver(nodeId: string) {
    this.takenOver.push(nodeId);
    return this.left;
  }
  async close() {}
}

const apps = (findById: AppStore['findById']): AppStore => ({
  findByKey: async () => undefined,
  findById,
  all: async () => [],
});

test('without an outbox (a single node) the webhooks ask and answer no other node', async () => {
  const adapter = new TestAdapter();
  const webhooks = clusterWebhooks({
    config: webhooksSchema.parse({}),
    logger,
    now: Date.now,
    apps: apps(async () => undefined),
    adapter,
  });
  assert.deepEqual([...adapter.handlers.keys()], []);
  assert.equal(adapter.downHandlers.length, 0);
  await webhooks.close();
});

test('another node may drop a removal held here; its request is checked first', async () => {
  const adapter = new TestAdapter();
  const outbox = new TestOutbox();
  const webhooks = clusterWebhooks({
    config: webhooksSchema.parse({ vacateDelayMs: 60_000 }),
    logger,
    now: Date.now,
    apps: apps(async () => undefined),
    adapter,
    outbox,
  });
  assert.deepEqual([...adapter.handlers.keys()], [CANCEL_HELD]);
  webhooks.memberRemoved(APP, 'presence-room', 'u1');
  await new Promise<void>((resolve) => setImmediate(resolve)); // the report's turn
  assert.deepEqual(
    [...outbox.entries.values()].map((e) => e.kind),
    ['held'],
    'the held removal is journaled',
  );
  const ask = (payload: unknown) => adapter.request<boolean>(CANCEL_HELD, payload);
  assert.deepEqual((await ask({ appId: 'a1', channel: 'presence-room', userId: 'u1' })).answers, [true]);
  assert.deepEqual((await ask({ appId: 'a1', channel: 'presence-room', userId: 'u1' })).answers, [false]);
  await assert.rejects(ask({ appId: 'a1', channel: 7 }), MalformedBusMessage);
  await webhooks.close();
});

test("a dead node's outbox is taken over, each entry's app looked up", async () => {
  const adapter = new TestAdapter();
  const held: OutboxEntry = {
    kind: 'held',
    key: 'gone-app\npresence-room\nu1',
    appId: 'gone-app',
    event: { timeMs: 1, event: { name: 'member_removed', channel: 'presence-room', user_id: 'u1' } },
    dueAt: Date.now() + 60_000,
  };
  const outbox = new TestOutbox([held]);
  let lookedUp!: (id: string) => void;
  const looked = new Promise<string>((resolve) => {
    lookedUp = resolve;
  });
  const webhooks = clusterWebhooks({
    config: webhooksSchema.parse({ vacateDelayMs: 60_000 }),
    logger,
    now: Date.now,
    apps: apps(async (id): Promise<App | undefined> => {
      lookedUp(id);
      return undefined; // the app is gone: nothing to report
    }),
    adapter,
    outbox,
  });
  assert.equal(adapter.downHandlers.length, 1);
  for (const down of adapter.downHandlers) down('n2');
  assert.equal(await looked, 'gone-app');
  assert.deepEqual(outbox.takenOver, ['n2']);
  await webhooks.close();
});
