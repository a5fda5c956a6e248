import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { pino } from 'pino';
import { type BusMessage, BusTopics } from '../../../src/adapters/bus-message.js';
import { Membership } from '../../../src/adapters/membership.js';

const HEARTBEAT_MS = 1_000;
const NODE_TIMEOUT_MS = 5_000;

/**
 * A membership on a fake clock, with the timers (heartbeats, handovers, the deadline of the broker's
 * answers) mocked too: `advance` moves both. What it sends is recorded; the broker's answer about a
 * silent node is `broker.gone`.
 */
function setup(broker?: { gone: boolean | undefined }) {
  const clock = { now: 1_700_000_000_000 };
  const sent: { topic: string; message: BusMessage }[] = [];
  const gone: string[] = [];
  const down: string[] = [];
  const asked: string[] = [];
  const membership = new Membership({
    logger: pino({ level: 'silent' }),
    nodeId: 'self',
    topics: new BusTopics('p'),
    send: async (topic, message) => {
      sent.push({ topic, message });
    },
    heartbeatMs: HEARTBEAT_MS,
    nodeTimeoutMs: NODE_TIMEOUT_MS,
    now: () => clock.now,
    onGone: (node) => gone.push(node),
    ...(broker
      ? {
          unsubscribed: async (topic: string) => {
            asked.push(topic);
            return broker.gone;
          },
        }
      : {}),
  });
  membership.onNodeDown((node) => down.push(node));
  /** Time passes: the clock and the timers due meanwhile, then what they set off. */
  const advance = async (ms: number) => {
    clock.now += ms;
    mock.timers.tick(ms);
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  /** One heartbeat period on a sound link: this node's own heartbeat comes back, then the tick. */
  const heartbeat = async () => {
    membership.heardSelf();
    await advance(HEARTBEAT_MS);
  };
  return { clock, membership, sent, gone, down, asked, advance, heartbeat };
}

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval'] }));
afterEach(() => mock.timers.reset());

test('start announces the node, then a heartbeat goes out every heartbeatMs until close', async () => {
  const { membership, sent, advance } = setup();
  await membership.start();
  assert.deepEqual(sent, [{ topic: 'p.all', message: { t: 'hb', n: 'self' } }]);
  await advance(HEARTBEAT_MS);
  await advance(HEARTBEAT_MS);
  assert.equal(sent.length, 3);
  membership.close();
  await advance(10 * HEARTBEAT_MS);
  assert.equal(sent.length, 3);
});

test('a node is seen by its heartbeat, and greeted so that it learns of this node at once', async () => {
  const { membership, sent } = setup();
  membership.heard({ t: 'hb', n: 'b' });
  assert.deepEqual(membership.peers, ['b']);
  assert.deepEqual(sent, [{ topic: 'p.node.b', message: { t: 'hb', n: 'self' } }]);
  // Heard again: known, not greeted twice.
  membership.heard({ t: 'hb', n: 'b' });
  assert.equal(sent.length, 1);
});

test('a message other than a heartbeat does not make up a node', () => {
  const { membership, sent } = setup();
  membership.heard({ t: 'msg', n: 'c', ns: 'pusher:app', ch: 'a', d: '{}' });
  membership.heard({ t: 'req', n: 'c', id: 'r', op: 'x', p: null });
  assert.deepEqual(membership.peers, []);
  assert.deepEqual(sent, []);
});

test('a node silent for nodeTimeoutMs is declared down, once', async () => {
  const { membership, down, gone, heartbeat, advance } = setup();
  await membership.start();
  membership.heard({ t: 'hb', n: 'b' });
  for (let i = 1; i < NODE_TIMEOUT_MS / HEARTBEAT_MS; i++) {
    await heartbeat();
    assert.deepEqual(membership.peers, ['b'], `still a member after ${i} heartbeats`);
  }
  assert.deepEqual(down, []);
  await heartbeat();
  assert.deepEqual(membership.peers, []);
  assert.deepEqual(down, ['b']);
  assert.deepEqual(gone, ['b']);
  await heartbeat();
  await advance(NODE_TIMEOUT_MS);
  assert.deepEqual(down, ['b']);
  membership.close();
});

test('any message from a known node refreshes it: it expires nodeTimeoutMs after the last one', async () => {
  const { membership, down, heartbeat } = setup();
  await membership.start();
  membership.heard({ t: 'hb', n: 'b' });
  for (let i = 0; i < 3; i++) await heartbeat();
  membership.heard({ t: 'res', n: 'b', id: 'r', r: 1 });
  for (let i = 0; i < 4; i++) await heartbeat();
  assert.deepEqual(down, []);
  await heartbeat();
  assert.deepEqual(down, ['b']);
  membership.close();
});

test('while its own heartbeats do not come back, the node is cut off and expires nobody', async () => {
  const { membership, down, advance, heartbeat } = setup();
  await membership.start();
  membership.heard({ t: 'hb', n: 'b' });
  await advance(3 * NODE_TIMEOUT_MS);
  assert.equal(membership.cutOff, true);
  assert.deepEqual(membership.peers, ['b']);
  // Back on the broker: the others' heartbeats were lost with ours, so each gets a full timeout.
  membership.heardSelf();
  assert.equal(membership.cutOff, false);
  for (let i = 1; i < NODE_TIMEOUT_MS / HEARTBEAT_MS; i++) await heartbeat();
  assert.deepEqual(down, []);
  await heartbeat();
  assert.deepEqual(down, ['b']);
  membership.close();
});

test('a goodbye ends the membership at once; the clean-up waits for the handover', async () => {
  const { membership, down, gone, advance } = setup();
  membership.heard({ t: 'hb', n: 'b' });
  membership.heard({ t: 'bye', n: 'b', h: 3_000 });
  assert.deepEqual(membership.peers, []);
  assert.deepEqual(gone, ['b']);
  await advance(2_999);
  assert.deepEqual(down, []);
  await advance(1);
  assert.deepEqual(down, ['b']);
});

test('a goodbye without a handover, or from a node never seen, leaves nothing to clean up', async () => {
  const { membership, down, gone, advance } = setup();
  membership.heard({ t: 'hb', n: 'b' });
  membership.heard({ t: 'bye', n: 'b' });
  membership.heard({ t: 'bye', n: 'stranger', h: 3_000 });
  membership.heard({ t: 'hb', n: 'c' });
  membership.heard({ t: 'bye', n: 'c', h: -1 });
  assert.deepEqual(gone, ['b', 'stranger', 'c']);
  await advance(120_000);
  assert.deepEqual(down, []);
});

test('a handover lasts a minute at the most, and close cancels it', async () => {
  const first = setup();
  first.membership.heard({ t: 'hb', n: 'b' });
  first.membership.heard({ t: 'bye', n: 'b', h: 1e12 });
  await first.advance(59_999);
  assert.deepEqual(first.down, []);
  await first.advance(1);
  assert.deepEqual(first.down, ['b']);

  const second = setup();
  second.membership.heard({ t: 'hb', n: 'b' });
  second.membership.heard({ t: 'bye', n: 'b', h: 3_000 });
  second.membership.close();
  await second.advance(60_000);
  assert.deepEqual(second.down, []);
});

test('a node the broker twice says is gone, a heartbeat apart, is down before its timeout', async () => {
  const broker = { gone: true as boolean | undefined };
  const { membership, down, asked, heartbeat } = setup(broker);
  await membership.start();
  membership.heard({ t: 'hb', n: 'b' });
  await heartbeat();
  assert.deepEqual(asked, [], 'not asked before a heartbeat and a half of silence');
  await heartbeat();
  assert.deepEqual(asked, ['p.node.b']);
  assert.deepEqual(down, [], 'one answer is not enough');
  await heartbeat();
  assert.deepEqual(down, ['b']);
  membership.close();
});

test('an answer that the node is still there, or none, starts the count again', async () => {
  const broker = { gone: true as boolean | undefined };
  const { membership, down, asked, heartbeat } = setup(broker);
  await membership.start();
  membership.heard({ t: 'hb', n: 'b' });
  await heartbeat();
  await heartbeat(); // gone: 1
  broker.gone = undefined;
  await heartbeat(); // cannot tell: 0
  broker.gone = true;
  await heartbeat(); // gone: 1
  assert.equal(asked.length, 3);
  assert.deepEqual(down, []);
  await heartbeat(); // timeout (5 s silent)
  assert.deepEqual(down, ['b']);
  membership.close();
});
