import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, describe, test } from 'node:test';
import type { Adapter, ChannelMessage, NodeId } from '../../src/adapters/adapter.js';
import { within } from '../helpers/raw-client.js';

/**
 * The `Adapter` contract (docs/architecture.md, "Boundaries": adapters know nothing of protocols), run
 * against every implementation: channel messages routed by interest and delivered once per node,
 * `except` carried along, requests and broadcasts to every live node, node expiry by heartbeat, and a bus
 * that shrugs off malformed messages.
 */

export interface Timings {
  heartbeatMs: number;
  nodeTimeoutMs: number;
  requestTimeoutMs: number;
}

/** One started node of a test cluster, with what the test needs to watch it. */
export interface TestNode {
  adapter: Adapter;
  /** The other nodes it believes alive. */
  peers(): NodeId[];
  /** Emits 'bus' (topic, payload) after the node has handled each message from the broker. */
  bus: EventEmitter;
  /** Emits 'log' with each log record (pino's JSON object). */
  logs: EventEmitter;
  /** Cuts the node off the broker without a goodbye, as a crash would; its timers keep running. */
  crash(): Promise<void>;
}

export interface TestCluster {
  /** Starts one more node sharing this cluster's bus. */
  node(): Promise<TestNode>;
  /** The broker topic of a channel, and a raw publish to any topic, bypassing every adapter. */
  raw?: {
    channelTopic(namespace: string, channel: string): string;
    allTopic: string;
    publish(topic: string, payload: string): Promise<void>;
  };
  /** Closes every node still open and any raw client. */
  close(): Promise<void>;
}

export interface AdapterHarness {
  name: string;
  /** False for an adapter that is a whole cluster by itself (memory): multi-node cases are skipped. */
  multiNode: boolean;
  /** `false` when the implementation can run here, else why not. */
  skip: string | false;
  /** A fresh cluster (its own topic prefix) with these timings. */
  cluster(timings: Timings): Promise<TestCluster>;
}

const GUARD_MS = 10_000;
/** Comfortable timings: nothing expires or times out unless a test makes it. */
const RELAXED: Timings = { heartbeatMs: 200, nodeTimeoutMs: 10_000, requestTimeoutMs: 5_000 };

/** Records every message a node's handler receives. */
class Inbox {
  readonly messages: ChannelMessage[] = [];
  readonly #events = new EventEmitter();

  constructor(adapter: Adapter) {
    adapter.onMessage((m) => {
      this.messages.push(m);
      this.#events.emit('message', m);
    });
  }

  /** Resolves with the first message (already received or not) matching `match`. */
  async next(match: (m: ChannelMessage) => boolean, what: string): Promise<ChannelMessage> {
    const seen = this.messages.find(match);
    if (seen) return seen;
    const arrived = new Promise<ChannelMessage>((resolve) => {
      const listener = (m: ChannelMessage) => {
        if (!match(m)) return;
        this.#events.off('message', listener);
        resolve(m);
      };
      this.#events.on('message', listener);
    });
    return within(arrived, GUARD_MS, what);
  }

  texts(channel: string): string[] {
    return this.messages.filter((m) => m.channel === channel).map((m) => m.text);
  }
}

/** Resolves once `condition()` holds, checked now and after each `event` on `emitter`. */
async function when(
  emitter: EventEmitter,
  event: string,
  condition: () => boolean,
  what: string,
): Promise<void> {
  if (condition()) return;
  const held = new Promise<void>((resolve) => {
    const listener = () => {
      if (!condition()) return;
      emitter.off(event, listener);
      resolve();
    };
    emitter.on(event, listener);
  });
  await within(held, GUARD_MS, what);
}

/** Resolves once every node knows every other one. */
async function meshed(nodes: TestNode[]): Promise<void> {
  await Promise.all(
    nodes.map((n) =>
      when(
        n.bus,
        'bus',
        () => nodes.every((o) => o === n || n.peers().includes(o.adapter.nodeId)),
        `${n.adapter.nodeId} to know its ${nodes.length - 1} peers`,
      ),
    ),
  );
}

export function adapterContract(harness: AdapterHarness): void {
  describe(`Adapter contract: ${harness.name}`, { skip: harness.skip }, () => {
    const clusters: TestCluster[] = [];
    after(async () => {
      await Promise.all(clusters.map((c) => c.close()));
    });
    const cluster = async (timings: Timings = RELAXED) => {
      const c = await harness.cluster(timings);
      clusters.push(c);
      return c;
    };
    const multi = harness.multiNode ? {} : { skip: `${harness.name} is a single node` };

    test('a publish reaches this node once, synchronously, with except carried along', async () => {
      const node = await (await cluster()).node();
      const inbox = new Inbox(node.adapter);
      await node.adapter.addInterest('ns', 'room');
      const sent = node.adapter.publish({ namespace: 'ns', channel: 'room', text: 'hello', except: '1.2' });
      assert.deepEqual(inbox.messages, [{ namespace: 'ns', channel: 'room', text: 'hello', except: '1.2' }]);
      await sent;
      await node.adapter.publish({ namespace: 'ns', channel: 'room', text: 'again' });
      assert.equal(inbox.messages.length, 2);
      assert.equal(inbox.messages[1]!.except, undefined);
    });

    test('request and broadcast on a lone node run its own handler and are complete', async () => {
      const node = await (await cluster()).node();
      const calls: unknown[] = [];
      node.adapter.handle('echo', (p) => ({ from: node.adapter.nodeId, p }));
      node.adapter.handle('note', (p) => {
        calls.push(p);
      });
      const result = await node.adapter.request<{ from: string; p: unknown }>('echo', { n: 1 });
      assert.deepEqual(result, { answers: [{ from: node.adapter.nodeId, p: { n: 1 } }], complete: true });
      await node.adapter.broadcast('note', { n: 2 });
      assert.deepEqual(calls, [{ n: 2 }]);
      // An operation nobody handles has no answers but nobody was left out either.
      assert.deepEqual(await node.adapter.request('nobody', {}), { answers: [], complete: true });
    });

    test('close is idempotent and a closed node can be closed again', async () => {
      const node = await (await cluster()).node();
      await node.adapter.close();
      await node.adapter.close();
    });

    test('a publish reaches every interested node exactly once and no other node', multi, async () => {
      const c = await cluster();
      const [a, b, d] = [await c.node(), await c.node(), await c.node()];
      await meshed([a, b, d]);
      const [inA, inB, inD] = [new Inbox(a.adapter), new Inbox(b.adapter), new Inbox(d.adapter)];
      // A listens to its own channel too: its publish must not come back to it over the broker.
      await Promise.all([a.adapter.addInterest('ns', 'room'), b.adapter.addInterest('ns', 'room')]);
      await Promise.all([a, b, d].map((n) => n.adapter.addInterest('ns', 'barrier')));

      await a.adapter.publish({ namespace: 'ns', channel: 'room', text: 'one', except: '7.7' });
      await b.adapter.publish({ namespace: 'ns', channel: 'room', text: 'two' });
      // Each publisher's messages arrive in order, so its barrier comes after everything it sent.
      await a.adapter.publish({ namespace: 'ns', channel: 'barrier', text: 'a' });
      await b.adapter.publish({ namespace: 'ns', channel: 'barrier', text: 'b' });
      for (const inbox of [inA, inB, inD]) {
        await inbox.next((m) => m.channel === 'barrier' && m.text === 'a', 'barrier a');
        await inbox.next((m) => m.channel === 'barrier' && m.text === 'b', 'barrier b');
      }
      // Two publishers: each message once, in no particular order between them.
      assert.deepEqual(inA.texts('room').sort(), ['one', 'two']);
      assert.deepEqual(inB.texts('room').sort(), ['one', 'two']);
      assert.deepEqual(inD.texts('room'), [], 'a node without interest gets nothing');
      const atB = inB.messages.find((m) => m.text === 'one')!;
      // What came over the bus says so: the protocols check it before their clients get it.
      assert.deepEqual(atB, { namespace: 'ns', channel: 'room', text: 'one', except: '7.7', remote: true });
      assert.equal(inA.messages.find((m) => m.text === 'two')!.except, undefined);
      assert.equal(inA.messages.find((m) => m.text === 'one')!.remote, undefined, 'its own publish is local');
    });

    test('a node that removed its interest gets nothing more; namespaces do not mix', multi, async () => {
      const c = await cluster();
      const [a, b] = [await c.node(), await c.node()];
      await meshed([a, b]);
      const inB = new Inbox(b.adapter);
      await b.adapter.addInterest('ns', 'room');
      await b.adapter.addInterest('ns', 'barrier');
      await a.adapter.publish({ namespace: 'ns', channel: 'room', text: 'before' });
      await inB.next((m) => m.text === 'before', 'the first message');
      await b.adapter.removeInterest('ns', 'room');
      await a.adapter.publish({ namespace: 'ns', channel: 'room', text: 'after' });
      await a.adapter.publish({ namespace: 'other', channel: 'barrier', text: 'wrong namespace' });
      await a.adapter.publish({ namespace: 'ns', channel: 'barrier', text: 'end' });
      await inB.next((m) => m.text === 'end', 'the barrier');
      assert.deepEqual(
        inB.messages.map((m) => `${m.namespace}/${m.channel}/${m.text}`),
        ['ns/room/before', 'ns/barrier/end'],
      );
    });

    test('request collects every node’s answer, this node’s first', multi, async () => {
      const c = await cluster();
      const nodes = [await c.node(), await c.node(), await c.node()];
      await meshed(nodes);
      for (const n of nodes) n.adapter.handle('who', (p) => ({ node: n.adapter.nodeId, p }));
      const [a] = nodes as [TestNode];
      const result = await a.adapter.request<{ node: string; p: unknown }>('who', { q: 1 });
      assert.equal(result.complete, true);
      assert.equal(result.answers[0]!.node, a.adapter.nodeId);
      assert.deepEqual(result.answers.map((r) => r.node).sort(), nodes.map((n) => n.adapter.nodeId).sort());
      assert.ok(result.answers.every((r) => (r.p as { q: number }).q === 1));
    });

    test('request reports incomplete, with the answers it got, when a node is gone', multi, async () => {
      const c = await cluster({ heartbeatMs: 100, nodeTimeoutMs: 30_000, requestTimeoutMs: 300 });
      const nodes = [await c.node(), await c.node(), await c.node()];
      await meshed(nodes);
      for (const n of nodes) n.adapter.handle('who', () => n.adapter.nodeId);
      const [a, b, gone] = nodes as [TestNode, TestNode, TestNode];
      await gone.crash();
      const incomplete = new Promise((resolve) =>
        a.logs.on('log', (r: { msg: string }) => r.msg === 'cluster request incomplete' && resolve(r)),
      );
      const result = await within(a.adapter.request<string>('who', {}), GUARD_MS, 'the request deadline');
      assert.equal(result.complete, false);
      assert.deepEqual([...result.answers].sort(), [a.adapter.nodeId, b.adapter.nodeId].sort());
      const logged = (await incomplete) as { missing: string[] };
      assert.deepEqual(logged.missing, [gone.adapter.nodeId]);
    });

    test('broadcast runs the operation once on every node', multi, async () => {
      const c = await cluster();
      const nodes = [await c.node(), await c.node(), await c.node()];
      await meshed(nodes);
      const runs = new Map<string, unknown[]>();
      for (const n of nodes) {
        runs.set(n.adapter.nodeId, []);
        n.adapter.handle('kick', (p) => {
          runs.get(n.adapter.nodeId)!.push(p);
        });
        n.adapter.handle('done', () => true);
      }
      const [a] = nodes as [TestNode];
      await a.adapter.broadcast('kick', { user: 'u1' });
      // A request travels behind the broadcast, so once every node answered, every node ran it.
      assert.equal((await a.adapter.request('done', {})).complete, true);
      for (const n of nodes) assert.deepEqual(runs.get(n.adapter.nodeId), [{ user: 'u1' }]);
    });

    test('onNodeDown fires once on each survivor when a node stops heartbeating', multi, async () => {
      const timings = { heartbeatMs: 100, nodeTimeoutMs: 1_000, requestTimeoutMs: 500 };
      const c = await cluster(timings);
      const nodes = [await c.node(), await c.node(), await c.node()];
      await meshed(nodes);
      const [a, b, gone] = nodes as [TestNode, TestNode, TestNode];
      const down = new Map<TestNode, NodeId[]>([
        [a, []],
        [b, []],
        [gone, []],
      ]);
      const downEvents = new EventEmitter();
      for (const [n, list] of down) {
        n.adapter.onNodeDown((id) => {
          list.push(id);
          downEvents.emit('down');
        });
      }
      // The node cut off from the bus hears nobody, itself included: it must not expire the others.
      const cutOff = new Promise((resolve) =>
        gone.logs.on('log', (r: { msg: string }) => r.msg === 'cut off from the broker' && resolve(r)),
      );
      await gone.crash();
      const crashedAt = Date.now();
      await when(
        downEvents,
        'down',
        () => down.get(a)!.length > 0 && down.get(b)!.length > 0,
        'both survivors to expire it',
      );
      const elapsed = Date.now() - crashedAt;
      assert.ok(
        elapsed >= timings.nodeTimeoutMs - 2 * timings.heartbeatMs,
        `expired after ${elapsed} ms, too early`,
      );
      assert.ok(
        elapsed <= timings.nodeTimeoutMs + 2 * timings.heartbeatMs + 1_000,
        `expired after ${elapsed} ms`,
      );
      // Twice the node timeout of further heartbeats: time enough for a second, wrong, expiry.
      const more = (2 * timings.nodeTimeoutMs) / timings.heartbeatMs;
      await Promise.all([heartbeats(a, b, more), heartbeats(b, a, more)]);
      await within(cutOff, GUARD_MS, 'the cut-off node to notice');
      assert.deepEqual(down.get(a), [gone.adapter.nodeId]);
      assert.deepEqual(down.get(b), [gone.adapter.nodeId]);
      assert.deepEqual(down.get(gone), [], 'the cut-off node declared others down');
      assert.deepEqual(a.peers(), [b.adapter.nodeId]);
      assert.deepEqual(b.peers(), [a.adapter.nodeId]);
      a.adapter.handle('who', () => 'a');
      b.adapter.handle('who', () => 'b');
      assert.deepEqual(await a.adapter.request('who', {}), { answers: ['a', 'b'], complete: true });
    });

    test('a node that said goodbye is forgotten at once and never reported down', multi, async () => {
      const timings = { heartbeatMs: 100, nodeTimeoutMs: 800, requestTimeoutMs: 5_000 };
      const c = await cluster(timings);
      const nodes = [await c.node(), await c.node(), await c.node()];
      await meshed(nodes);
      const [a, b, leaving] = nodes as [TestNode, TestNode, TestNode];
      const down: NodeId[] = [];
      a.adapter.onNodeDown((id) => down.push(id));
      b.adapter.onNodeDown((id) => down.push(id));
      await leaving.adapter.close();
      await Promise.all(
        [a, b].map((n) =>
          when(n.bus, 'bus', () => !n.peers().includes(leaving.adapter.nodeId), 'the goodbye'),
        ),
      );
      // Without its goodbye the request below would wait the full 5 s deadline for it.
      a.adapter.handle('who', () => 'a');
      b.adapter.handle('who', () => 'b');
      assert.deepEqual(await within(a.adapter.request('who', {}), 2_000, 'the request'), {
        answers: ['a', 'b'],
        complete: true,
      });
      const more = (2 * timings.nodeTimeoutMs) / timings.heartbeatMs;
      await Promise.all([heartbeats(a, b, more), heartbeats(b, a, more)]);
      assert.deepEqual(down, []);
    });

    test('malformed messages on the bus are dropped and logged; the nodes carry on', multi, async () => {
      const c = await cluster();
      const raw = c.raw;
      assert.ok(raw, 'a multi-node harness gives raw access to its bus');
      const [a, b] = [await c.node(), await c.node()];
      await meshed([a, b]);
      const inA = new Inbox(a.adapter);
      await a.adapter.addInterest('ns', 'room');
      const garbage = [
        'not json at all',
        '',
        'null',
        '42',
        '"a string"',
        '[1,2,3]',
        '{}',
        '{"t":"msg"}',
        '{"t":"msg","n":"x","ns":"ns","ch":"room"}',
        '{"t":"msg","n":"x","ns":"ns","ch":"room","d":5}',
        '{"t":"msg","n":"x","ns":"ns","ch":"room","d":"text","x":7}',
        '{"t":"req","n":"x","id":1,"op":"who"}',
        '{"t":"cast","n":"x"}',
        '{"t":"res","n":"x"}',
        '{"t":"nope","n":"x"}',
        '{"t":"hb","n":5}',
        '{"t":"msg","n":"x","ns":"ns","ch":"room","d":"broken',
      ];
      const dropped: unknown[] = [];
      const droppedEvents = new EventEmitter();
      a.logs.on('log', (r: { msg: string }) => {
        if (r.msg !== 'malformed cluster message dropped') return;
        dropped.push(r);
        droppedEvents.emit('dropped');
      });
      for (const [i, payload] of garbage.entries()) {
        const topic = i % 2 === 0 ? raw.allTopic : raw.channelTopic('ns', 'room');
        await raw.publish(topic, payload);
      }
      await when(
        droppedEvents,
        'dropped',
        () => dropped.length === garbage.length,
        'every drop to be logged',
      );
      assert.deepEqual(inA.messages, [], 'nothing malformed was delivered');
      // Both nodes still work, and no phantom node joined the cluster.
      await b.adapter.publish({ namespace: 'ns', channel: 'room', text: 'still alive' });
      await inA.next((m) => m.text === 'still alive', 'a message after the garbage');
      a.adapter.handle('who', () => 'a');
      b.adapter.handle('who', () => 'b');
      assert.deepEqual(await a.adapter.request('who', {}), { answers: ['a', 'b'], complete: true });
      assert.deepEqual(a.peers(), [b.adapter.nodeId]);
    });
  });
}

/** Resolves after `node` has handled `count` heartbeats from `from` (each a full tick of `from`). */
async function heartbeats(node: TestNode, from: TestNode, count: number): Promise<void> {
  let seen = 0;
  const counted = new Promise<void>((resolve) => {
    const listener = (_topic: string, payload: string) => {
      if (!isHeartbeat(payload, from.adapter.nodeId)) return;
      if (++seen < count) return;
      node.bus.off('bus', listener);
      resolve();
    };
    node.bus.on('bus', listener);
  });
  await within(counted, GUARD_MS + count * 100, `${count} heartbeats`);
}

function isHeartbeat(payload: string, nodeId: NodeId): boolean {
  try {
    const message = JSON.parse(payload) as { t?: unknown; n?: unknown };
    return message.t === 'hb' && message.n === nodeId;
  } catch {
    return false; // garbage some test put on the bus
  }
}
