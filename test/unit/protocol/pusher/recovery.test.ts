import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryAdapter } from '../../../../src/adapters/memory.js';
import type { AppConfig } from '../../../../src/config/schema.js';
import { MemoryChannelHistory } from '../../../../src/core/channel-history/memory.js';
import type { ChannelHistory } from '../../../../src/core/channel-history/store.js';
import type { PusherServerOptions } from '../../../../src/protocol/pusher/server.js';
import { type Client, harness, type WireFrame } from './harness.js';

/**
 * Message recovery across reconnects over fake connections (docs/recovery.md): the resume token, a
 * connection that resumes another and what it is replayed on each channel it subscribes to again, and
 * each way that ends in `recovered: false`.
 */

const HISTORY: Partial<AppConfig> = {
  history: {
    streams: [
      { channels: ['orders-*', 'cache-orders'], maxEvents: 5, ttlSeconds: 60 },
      { channels: ['private-*'], maxEvents: 100, ttlSeconds: 60 },
    ],
    resumeTtlSeconds: 30,
  },
};

function withHistory(options: Partial<PusherServerOptions> = {}, config: Partial<AppConfig> = HISTORY) {
  let clock = 1_000_000;
  const now = () => clock;
  const history = options.channelHistory ?? new MemoryChannelHistory(now);
  const h = harness(config, { now, channelHistory: history, ...options });
  const publish = (channel: string, n: number | string, except?: string) =>
    h.server.queries.publish(h.app, channel, 'order', JSON.stringify({ n }), except);
  return {
    ...h,
    history,
    publish,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

/** The resume token a client got in `herald:session`. */
async function tokenOf(client: Client): Promise<string> {
  const session = await client.connection.next('herald:session');
  return (session.data as { resume_token: string }).resume_token;
}

/** Channel events as the client counts them: not `pusher:`, `pusher_internal:` or `herald:` ones. */
const counted = (frames: readonly WireFrame[], channel: string) =>
  frames.filter((f) => f.channel === channel && !/^(pusher|pusher_internal|herald):/.test(f.event));
const numbers = (frames: readonly WireFrame[], channel: string) =>
  counted(frames, channel).map((f) => (f.data as { n: number }).n);

/** What a resubscribing client received after its subscription succeeded, up to `herald:resumed`. */
async function resumedOn(client: Client, channel: string): Promise<{ replayed: number[]; resumed: unknown }> {
  const resumed = await client.connection.next('herald:resumed', channel);
  const sent = client.connection.sent;
  const start = sent.findIndex(
    (f) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === channel,
  );
  const end = sent.findIndex((f) => f.event === 'herald:resumed' && f.channel === channel);
  return { replayed: numbers(sent.slice(start + 1, end), channel), resumed: resumed.data };
}

/** Connects, subscribes to `channels`, and returns the client with its token. */
async function connected(h: ReturnType<typeof withHistory>, channels: string[]) {
  const client = await h.connect();
  const token = await tokenOf(client);
  for (const channel of channels) {
    const auth = channel.startsWith('private-') ? h.sdk.authorizeChannel(client.socketId, channel) : {};
    assert.equal((await client.subscribe(channel, auth)).event, 'pusher_internal:subscription_succeeded');
  }
  return { client, token };
}

/** A new connection that resumes `token` with `received`, then subscribes to `channels`. */
async function resuming(
  h: ReturnType<typeof withHistory>,
  token: string,
  received: Record<string, number>,
  channels: string[],
) {
  const client = await h.connect();
  client.send('herald:resume', { token, received });
  for (const channel of channels) {
    const auth = channel.startsWith('private-') ? h.sdk.authorizeChannel(client.socketId, channel) : {};
    client.send('pusher:subscribe', { channel, ...auth });
  }
  return client;
}

const drop = (client: Client) => client.socket.onClose(1006);

describe('resume token', () => {
  test('herald:session follows connection_established for apps with history, with the resume window', async () => {
    const h = withHistory();
    const client = await h.connect();
    assert.equal(client.connection.sent[0]!.event, 'pusher:connection_established');
    const session = client.connection.sent[1]!;
    assert.equal(session.event, 'herald:session');
    assert.equal(session.channel, undefined);
    const data = session.data as { resume_token: string; ttl: number };
    assert.match(data.resume_token, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(data.ttl, 30);
    const other = await h.connect();
    assert.notEqual(await tokenOf(other), data.resume_token);
  });

  test('apps without history get no herald:session, and herald:resume is refused', async () => {
    const h = withHistory({}, {});
    const client = await h.connect();
    client.send('pusher:ping', {});
    await client.connection.next('pusher:pong');
    assert.deepEqual(
      client.connection.sent.map((f) => f.event),
      ['pusher:connection_established', 'pusher:pong'],
    );
    client.send('herald:resume', { token: 'abc', received: {} });
    const error = await client.connection.next('pusher:error');
    assert.match((error.data as { message: string }).message, /keeps no history/);
  });
});

describe('recovery', () => {
  test('the events after those the client counted are replayed in order, then herald:resumed, then live', async () => {
    const h = withHistory();
    const { client: a, token } = await connected(h, ['orders-1']);
    for (const n of [1, 2, 3]) await h.publish('orders-1', n);
    assert.deepEqual(numbers(a.connection.sent, 'orders-1'), [1, 2, 3]);
    drop(a);
    for (const n of [4, 5]) await h.publish('orders-1', n);
    // The client saw 2 of the 3 it was sent: the third was on its way when the connection broke.
    const b = await resuming(h, token, { 'orders-1': 2 }, ['orders-1']);
    const { replayed, resumed } = await resumedOn(b, 'orders-1');
    assert.deepEqual(replayed, [3, 4, 5]);
    const epoch = (await h.history.position('pusher:app-id', 'orders-1'))!.epoch;
    assert.deepEqual(resumed, { recovered: true, epoch });
    await h.publish('orders-1', 6);
    assert.deepEqual(numbers(b.connection.sent, 'orders-1'), [3, 4, 5, 6]);
  });

  test('a resumed connection can be resumed in turn, from the counts the client made on it', async () => {
    const h = withHistory();
    const { client: a, token } = await connected(h, ['orders-1', 'orders-2']);
    await h.publish('orders-1', 1);
    drop(a);
    await h.publish('orders-1', 2);
    // The second connection subscribes again to orders-1 only, then breaks too.
    const b = await resuming(h, token, { 'orders-1': 1, 'orders-2': 0 }, ['orders-1']);
    const second = await tokenOf(b);
    assert.deepEqual((await resumedOn(b, 'orders-1')).replayed, [2]);
    drop(b);
    await h.publish('orders-1', 3);
    await h.publish('orders-2', 1);
    const c = await resuming(h, second, { 'orders-1': 1, 'orders-2': 0 }, ['orders-1', 'orders-2']);
    assert.deepEqual((await resumedOn(c, 'orders-1')).replayed, [3]);
    // orders-2 was not subscribed on the second connection: its count from the first still holds.
    const two = await resumedOn(c, 'orders-2');
    assert.deepEqual(two.replayed, [1]);
    assert.equal((two.resumed as { recovered: boolean }).recovered, true);
  });

  test('events the old connection was not to be sent are not replayed to the new one', async () => {
    const h = withHistory();
    const { client: a, token } = await connected(h, ['orders-1']);
    drop(a);
    await h.publish('orders-1', 1);
    await h.publish('orders-1', 2, a.socketId);
    await h.publish('orders-1', 3);
    const b = await resuming(h, token, { 'orders-1': 0 }, ['orders-1']);
    assert.deepEqual((await resumedOn(b, 'orders-1')).replayed, [1, 3]);
  });

  test('client events are replayed too, and not to their sender', async () => {
    const h = withHistory({}, { ...HISTORY, clientEvents: true });
    const channel = 'private-chat';
    const { client: a, token } = await connected(h, [channel]);
    const { client: peer, token: peerToken } = await connected(h, [channel]);
    drop(a);
    peer.send('client-said', { n: 1 }, channel);
    peer.send('client-said', { n: 2 }, channel);
    const b = await resuming(h, token, { [channel]: 0 }, [channel]);
    assert.deepEqual((await resumedOn(b, channel)).replayed, [1, 2]);
    // The peer resumes in turn: its own events are not sent back to it.
    drop(peer);
    const c = await resuming(h, peerToken, { [channel]: 0 }, [channel]);
    assert.deepEqual((await resumedOn(c, channel)).replayed, []);
  });

  test('a cache channel that recovers gets the replay instead of its last event', async () => {
    const h = withHistory();
    const { client: a, token } = await connected(h, ['cache-orders']);
    assert.equal(a.connection.sent.at(-1)!.event, 'pusher:cache_miss');
    await h.publish('cache-orders', 1);
    drop(a);
    await h.publish('cache-orders', 2);
    const b = await resuming(h, token, { 'cache-orders': 1 }, ['cache-orders']);
    const { replayed } = await resumedOn(b, 'cache-orders');
    assert.deepEqual(replayed, [2], 'event 2 once, not the cached copy of it too');
    // A new subscriber counts the cached event: resuming it after one event asks for nothing more.
    const { client: c, token: third } = await connected(h, ['cache-orders']);
    assert.deepEqual(numbers(c.connection.sent, 'cache-orders'), [2]);
    drop(c);
    const d = await resuming(h, third, { 'cache-orders': 1 }, ['cache-orders']);
    assert.deepEqual(await resumedOn(d, 'cache-orders'), {
      replayed: [],
      resumed: { recovered: true, epoch: (await h.history.position('pusher:app-id', 'cache-orders'))!.epoch },
    });
  });

  test('live events during the replay are held back and sent after it, each once', async () => {
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let reached: () => void = () => {};
    const reading = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const memory = new MemoryChannelHistory();
    const slow: ChannelHistory = {
      append: (...args) => memory.append(...args),
      position: (...args) => memory.position(...args),
      saveResumeState: (...args) => memory.saveResumeState(...args),
      takeResumeState: (...args) => memory.takeResumeState(...args),
      close: () => memory.close(),
      read: async (...args) => {
        const page = await memory.read(...args);
        reached();
        await gate;
        return page;
      },
    };
    const h = withHistory({ channelHistory: slow });
    const { client: a, token } = await connected(h, ['orders-1']);
    drop(a);
    await h.publish('orders-1', 1);
    const b = await resuming(h, token, { 'orders-1': 0 }, ['orders-1']);
    await reading;
    // The read is stuck: these arrive live meanwhile, the first of them also in the read's page.
    await h.publish('orders-1', 2);
    await h.publish('orders-1', 3);
    assert.deepEqual(numbers(b.connection.sent, 'orders-1'), [], 'held while the read waits');
    open();
    await b.connection.next('herald:resumed', 'orders-1');
    await h.publish('orders-1', 4);
    assert.deepEqual(numbers(b.connection.sent, 'orders-1'), [1, 2, 3, 4]);
  });
});

describe('recovered: false', () => {
  test('more events were missed than the stream keeps', async () => {
    const h = withHistory();
    const { client: a, token } = await connected(h, ['orders-1']);
    drop(a);
    for (let n = 1; n <= 7; n++) await h.publish('orders-1', n);
    const b = await resuming(h, token, { 'orders-1': 0 }, ['orders-1']);
    const { replayed, resumed } = await resumedOn(b, 'orders-1');
    assert.deepEqual(replayed, []);
    assert.equal((resumed as { recovered: boolean }).recovered, false);
    await h.publish('orders-1', 8);
    assert.deepEqual(numbers(b.connection.sent, 'orders-1'), [8], 'live from then on');
  });

  test('an unknown token, an expired one, and one used twice', async () => {
    const h = withHistory();
    const unknown = await resuming(h, 'no-such-token', { 'orders-1': 0 }, ['orders-1']);
    assert.equal(((await resumedOn(unknown, 'orders-1')).resumed as { recovered: boolean }).recovered, false);

    const { client: a, token } = await connected(h, ['orders-1']);
    drop(a);
    h.advance(30_000);
    const late = await resuming(h, token, { 'orders-1': 0 }, ['orders-1']);
    assert.equal(((await resumedOn(late, 'orders-1')).resumed as { recovered: boolean }).recovered, false);

    const { client: c, token: once } = await connected(h, ['orders-1']);
    drop(c);
    const first = await resuming(h, once, { 'orders-1': 0 }, ['orders-1']);
    assert.equal(((await resumedOn(first, 'orders-1')).resumed as { recovered: boolean }).recovered, true);
    const second = await resuming(h, once, { 'orders-1': 0 }, ['orders-1']);
    assert.equal(((await resumedOn(second, 'orders-1')).resumed as { recovered: boolean }).recovered, false);
  });

  test('a channel the old connection did not count, a count it was never sent, a channel without a stream', async () => {
    const h = withHistory();
    const { client: a, token } = await connected(h, ['orders-1', 'news']);
    await h.publish('orders-1', 1);
    drop(a);
    const b = await resuming(h, token, { 'orders-1': 2, 'orders-2': 0, news: 0 }, [
      'orders-1',
      'orders-2',
      'news',
    ]);
    for (const channel of ['orders-1', 'orders-2']) {
      assert.equal(
        ((await resumedOn(b, channel)).resumed as { recovered: boolean }).recovered,
        false,
        channel,
      );
    }
    assert.deepEqual((await resumedOn(b, 'news')).resumed, { recovered: false, epoch: null });
  });

  test('channels the client did not name get no herald:resumed', async () => {
    const h = withHistory();
    const { client: a, token } = await connected(h, ['orders-1']);
    drop(a);
    const b = await resuming(h, token, {}, ['orders-1']);
    await b.connection.next('pusher_internal:subscription_succeeded', 'orders-1');
    b.send('pusher:ping', {});
    await b.connection.next('pusher:pong');
    assert.equal(
      b.connection.sent.some((f) => f.event === 'herald:resumed'),
      false,
    );
  });
});

describe('herald:resume', () => {
  test('malformed ones are refused with pusher:error, and a second one too', async () => {
    const h = withHistory();
    const client = await h.connect();
    const refusals: unknown[] = [
      'not json',
      [],
      { received: {} },
      { token: 7, received: {} },
      { token: 'a b', received: {} },
      { token: 'x'.repeat(65), received: {} },
      { token: 'abc', received: [] },
      { token: 'abc', received: { c: -1 } },
      { token: 'abc', received: { c: 1.5 } },
      { token: 'abc', received: { c: '1' } },
    ];
    for (const data of refusals) {
      client.send('herald:resume', data);
      const error = await client.connection.next('pusher:error');
      assert.match(
        (error.data as { message: string }).message,
        /^Invalid herald:resume: /,
        JSON.stringify(data),
      );
    }
    client.send('herald:resume', JSON.stringify({ token: 'abc', received: { c: 1 } }));
    client.send('herald:resume', { token: 'abc', received: {} });
    const repeated = await client.connection.next('pusher:error');
    assert.match((repeated.data as { message: string }).message, /once per connection/);
  });

  test('a connection still open here is closed by the one that resumes it, and its state taken', async () => {
    const h = withHistory();
    const { client: a, token } = await connected(h, ['orders-1']);
    await h.publish('orders-1', 1);
    const b = await resuming(h, token, { 'orders-1': 0 }, ['orders-1']);
    assert.deepEqual((await resumedOn(b, 'orders-1')).replayed, [1]);
    assert.deepEqual(a.connection.closed, { code: 4200, reason: 'Connection resumed by a newer one' });
  });
});

describe('offset order on a node', () => {
  /**
   * Events appended to the stream as other nodes would, and delivered here as the bus brings them:
   * in `order` of their numbers (1-based), the others never.
   */
  async function fromOtherNodes(
    h: ReturnType<typeof withHistory>,
    adapter: MemoryAdapter,
    channel: string,
    count: number,
    order: number[],
  ) {
    const limits = { maxEvents: 5, ttlMs: 60_000, streamTtlMs: 60_000 };
    const texts: string[] = [];
    const positions = [];
    for (let n = 1; n <= count; n++) {
      const text = JSON.stringify({ event: 'order', channel, data: JSON.stringify({ n }) });
      texts.push(text);
      positions.push(await h.history.append('pusher:app-id', channel, { text }, limits));
    }
    for (const n of order) {
      await adapter.publish({
        namespace: 'pusher:app-id',
        channel,
        text: texts[n - 1]!,
        stream: positions[n - 1]!,
        remote: true,
      });
    }
  }

  const received = async (client: Client, channel: string, count: number) => {
    const got: number[] = [];
    for (let i = 0; i < count; i++) {
      const frame = await client.connection.next('order', channel);
      got.push((frame.data as { n: number }).n);
    }
    return got;
  };

  test('events that arrive out of order are delivered in offset order, each once', async () => {
    const adapter = new MemoryAdapter('node-a');
    const h = withHistory({ adapter });
    const { client } = await connected(h, ['orders-1']);
    await fromOtherNodes(h, adapter, 'orders-1', 4, [3, 1, 4, 2, 3, 1]);
    assert.deepEqual(await received(client, 'orders-1', 4), [1, 2, 3, 4]);
    await h.publish('orders-1', 5);
    assert.deepEqual(await received(client, 'orders-1', 1), [5]);
    assert.deepEqual(client.connection.pending(), []);
  });

  test('an event the bus lost is read from the store, and those after it wait for it', async () => {
    const adapter = new MemoryAdapter('node-a');
    const h = withHistory({ adapter });
    const { client } = await connected(h, ['orders-1']);
    await fromOtherNodes(h, adapter, 'orders-1', 4, [1, 3, 4]);
    assert.deepEqual(await received(client, 'orders-1', 4), [1, 2, 3, 4]);
    assert.deepEqual(client.connection.pending(), []);
  });

  test('first subscriptions whose positions are read back in the other order each get every event after their own', async () => {
    const adapter = new MemoryAdapter('node-a');
    const store = new MemoryChannelHistory(() => Date.now());
    // Each position is read when asked and answered when the test says: as replies that overtake.
    const answers: (() => void)[] = [];
    let asked: () => void = () => {};
    const history: ChannelHistory = {
      append: (...args) => store.append(...args),
      read: (...args) => store.read(...args),
      position: async (...args) => {
        const position = await store.position(...args);
        return new Promise((resolve) => {
          answers.push(() => resolve(position));
          asked();
        });
      },
      saveResumeState: (...args) => store.saveResumeState(...args),
      takeResumeState: (...args) => store.takeResumeState(...args),
      close: () => store.close(),
    };
    const positionAsked = () =>
      new Promise<void>((resolve) => {
        asked = resolve;
      });
    const h = withHistory({ adapter, channelHistory: history });
    const a = await h.connect();
    const b = await h.connect();
    await fromOtherNodes(h, adapter, 'orders-1', 1, []);
    let read = positionAsked();
    const aSubscribed = a.subscribe('orders-1');
    await read;
    // Published through another node after a's position was read, before b's.
    const limits = { maxEvents: 5, ttlMs: 60_000, streamTtlMs: 60_000 };
    const text = JSON.stringify({ event: 'order', channel: 'orders-1', data: JSON.stringify({ n: 2 }) });
    const second = await h.history.append('pusher:app-id', 'orders-1', { text }, limits);
    read = positionAsked();
    const bSubscribed = b.subscribe('orders-1');
    await read;
    await adapter.publish({
      namespace: 'pusher:app-id',
      channel: 'orders-1',
      text,
      stream: second,
      remote: true,
    });
    // b's position comes back first.
    answers[1]!();
    await bSubscribed;
    answers[0]!();
    await aSubscribed;
    await h.publish('orders-1', 3);
    for (const client of [a, b])
      await client.connection.nextWhere(
        (f) => f.event === 'order' && f.data !== null && (f.data as { n: number }).n === 3,
      );
    assert.deepEqual(numbers(a.connection.sent, 'orders-1'), [2, 3]);
    assert.deepEqual(numbers(b.connection.sent, 'orders-1'), [3]);
  });

  test('a channel left by its last subscriber here begins its order anew: nothing is read for the events it missed', async () => {
    const adapter = new MemoryAdapter('node-a');
    const store = new MemoryChannelHistory(() => Date.now());
    let reads = 0;
    const history: ChannelHistory = {
      append: (...args) => store.append(...args),
      read: (...args) => {
        reads++;
        return store.read(...args);
      },
      position: (...args) => store.position(...args),
      saveResumeState: (...args) => store.saveResumeState(...args),
      takeResumeState: (...args) => store.takeResumeState(...args),
      close: () => store.close(),
    };
    const h = withHistory({ adapter, channelHistory: history });
    const { client } = await connected(h, ['orders-1']);
    await fromOtherNodes(h, adapter, 'orders-1', 2, [1, 2]);
    assert.deepEqual(await received(client, 'orders-1', 2), [1, 2]);
    client.send('pusher:unsubscribe', { channel: 'orders-1' });
    // Published through other nodes while nobody here listened: this node did not get them.
    await fromOtherNodes(h, adapter, 'orders-1', 3, []);
    assert.equal((await client.subscribe('orders-1')).event, 'pusher_internal:subscription_succeeded');
    await h.publish('orders-1', 6);
    assert.deepEqual(await received(client, 'orders-1', 1), [6]);
    assert.equal(reads, 0);
  });
});
