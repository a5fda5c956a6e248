import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, afterEach, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Echo from 'laravel-echo';
import PusherServer from 'pusher';
import { WebSocket } from 'ws';
import { APP, connected, startHerald, type TestHerald } from '../helpers/herald.js';
import { Pusher } from '../helpers/pusher-js.js';
import { type PusherFrame, RawClient, within } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';

/**
 * The subscription limits (README "App settings" `maxSubscriptionsPerConnection`, "Server settings"
 * `maxMemoryMB`): a subscription over them is refused with `pusher:subscription_error` 429 and a
 * `pusher:error` 4303 (per connection) or 4304 (memory), the connection stays open and served.
 */

const GUARD_MS = 10_000;
const LIMIT = 3;
const LIMITED = { id: 'limited', key: 'limited-key', secret: 'limited-secret' } as const;
const UNLIMITED = { id: 'unlimited', key: 'unlimited-key', secret: 'unlimited-secret' } as const;
const MiB = 1024 * 1024;
const BIN = fileURLToPath(new URL('../../../bin/herald.js', import.meta.url));

type SubscriptionError = { type: string; error: string; status: number };

function isReply(channel: string) {
  return (f: PusherFrame) =>
    f.channel === channel &&
    (f.event === 'pusher_internal:subscription_succeeded' || f.event === 'pusher:subscription_error');
}

/** The subscription's answer; for a refusal, also the `pusher:error` that goes with it. */
async function subscribe(
  client: RawClient,
  channel: string,
  extra: Record<string, unknown> = {},
): Promise<{ reply: PusherFrame; error?: PusherFrame }> {
  client.send({ event: 'pusher:subscribe', data: { channel, ...extra } });
  const reply = await within(client.next(isReply(channel)), GUARD_MS, `answer for ${channel}`);
  if (reply.event !== 'pusher:subscription_error') return { reply };
  const error = await within(client.next('pusher:error'), GUARD_MS, `pusher:error for ${channel}`);
  return { reply, error };
}

function assertSucceeded(answer: { reply: PusherFrame }, channel: string): void {
  assert.equal(answer.reply.event, 'pusher_internal:subscription_succeeded', `${channel} must succeed`);
  assert.equal(answer.reply.channel, channel);
}

/** A 429 refusal of `channel` with `type`, and the `pusher:error` with `code`, as the wire has them. */
function assertRefused(
  answer: { reply: PusherFrame; error?: PusherFrame },
  channel: string,
  type: string,
  code: number,
): void {
  assert.equal(answer.reply.event, 'pusher:subscription_error', `${channel} must be refused`);
  assert.equal(answer.reply.channel, channel);
  const data = answer.reply.data as SubscriptionError;
  assert.equal(data.type, type);
  assert.equal(data.status, 429);
  assert.equal(typeof data.error, 'string');
  assert.ok(data.error.length > 0);
  const error = answer.error?.data as { code: unknown; message: unknown };
  assert.equal(error.code, code);
  assert.equal(error.message, data.error);
}

/** Ping answered, the socket open, and no `pusher:error` left unread: nothing was refused unseen. */
async function assertServedAndQuiet(client: RawClient): Promise<void> {
  client.send({ event: 'pusher:ping', data: {} });
  await within(client.next('pusher:pong'), GUARD_MS, 'pong');
  assert.equal(client.ws.readyState, client.ws.OPEN);
  assert.deepEqual(
    client.frames.filter((f) => f.event === 'pusher:error'),
    [],
  );
}

async function occupied(
  server: TestHerald,
  credentials: { id: string; key: string; secret: string },
  prefix: string,
): Promise<string[]> {
  const response = await server
    .sdk({ ...credentials })
    .get({ path: '/channels', params: { filter_by_prefix: prefix } });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { channels: Record<string, unknown> };
  return Object.keys(body.channels).sort();
}

interface BurstResult {
  succeeded: number;
  /** `pusher:subscription_error` with status 429. */
  refused: number;
  /** `pusher:error` with code 4303. */
  limitErrors: number;
  other: number;
}

/**
 * Sends `count` subscribes to distinct channels `<prefix><i>` on one connection, `WINDOW` at a time
 * without waiting for any answer in between: each window is on the wire before its first answer
 * comes back. The next window waits for the answers to this one, so that a client reading in this
 * same process keeps up (a client that stops reading is disconnected at `maxBufferedBytes`). Answers
 * are counted, not kept, so that the client's memory stays out of the server's measurement.
 */
async function burst(
  url: string,
  prefix: string,
  count: number,
  beforeWindow?: (start: number) => Promise<void>,
) {
  const WINDOW = 5_000;
  const ws = new WebSocket(url);
  const result: BurstResult = { succeeded: 0, refused: 0, limitErrors: 0, other: 0 };
  const closed = new Promise<never>((_, reject) => {
    ws.on('close', (code) => reject(new Error(`closed with ${code} after ${JSON.stringify(result)}`)));
  });
  closed.catch(() => {});
  let waiter: { target: number; resolve: () => void } | undefined;
  const answered = () => result.succeeded + result.refused + result.other;
  const check = () => {
    if (waiter && answered() >= waiter.target && result.limitErrors === result.refused) waiter.resolve();
  };
  const answers = (target: number) =>
    new Promise<void>((resolve) => {
      waiter = { target, resolve };
      check();
    });
  let opened!: () => void;
  const established = new Promise<void>((resolve) => {
    opened = resolve;
  });
  ws.on('message', (raw) => {
    const frame = JSON.parse(raw.toString()) as PusherFrame;
    if (frame.event === 'pusher:connection_established') return opened();
    if (frame.event === 'pusher_internal:subscription_succeeded') result.succeeded++;
    else if (frame.event === 'pusher:subscription_error') {
      if ((frame.data as SubscriptionError).status === 429) result.refused++;
      else result.other++;
    } else if (frame.event === 'pusher:error' && (frame.data as { code: unknown }).code === 4303) {
      result.limitErrors++;
    } else result.other++;
    check();
  });
  await within(Promise.race([established, closed]), GUARD_MS, 'connection_established');
  for (let start = 0; start < count; start += WINDOW) {
    await beforeWindow?.(start);
    const end = Math.min(count, start + WINDOW);
    for (let i = start; i < end; i++)
      ws.send(`{"event":"pusher:subscribe","data":{"channel":"${prefix}${i}"}}`);
    await within(Promise.race([answers(end), closed]), GUARD_MS, `answers to subscribes ${start}–${end - 1}`);
  }
  return { ws, result };
}

describe('maxSubscriptionsPerConnection', () => {
  let server: TestHerald;
  const opened: RawClient[] = [];
  const echos: Echo<'reverb'>[] = [];

  before(async () => {
    server = await startHerald({
      apps: [
        { ...APP, clientEvents: true },
        { ...LIMITED, maxSubscriptionsPerConnection: LIMIT },
        { ...UNLIMITED, maxSubscriptionsPerConnection: null },
      ],
    });
  });
  afterEach(() => {
    for (const client of opened.splice(0)) client.close();
    for (const echo of echos.splice(0)) echo.disconnect();
  });
  after(() => server.stop());

  async function connect(key: string = LIMITED.key): Promise<{ client: RawClient; socketId: string }> {
    const connection = await within(RawClient.connect(server.wsUrl(key)), GUARD_MS, 'handshake');
    opened.push(connection.client);
    return connection;
  }

  test('exactly the limit succeeds; more get 429 and 4303, the socket stays served; unsubscribing frees a slot', async () => {
    const { client } = await connect();
    for (const channel of ['one', 'two', 'three']) assertSucceeded(await subscribe(client, channel), channel);

    assertRefused(await subscribe(client, 'four'), 'four', 'LimitReached', 4303);
    assert.deepEqual(await occupied(server, LIMITED, ''), ['one', 'three', 'two'], 'nothing kept for four');
    // A malformed name gets its own answer at the limit too, not the limit's.
    const misnamed = await subscribe(client, 'bad name!');
    assert.equal((misnamed.reply.data as SubscriptionError).type, 'ChannelNameError');
    assert.equal((misnamed.reply.data as SubscriptionError).status, 400);
    assert.ok(misnamed.error);
    assert.equal((misnamed.error.data as { code: unknown }).code, null);
    // Re-subscribing to a held channel is idempotent, at the limit too: answered, never refused.
    assertSucceeded(await subscribe(client, 'two'), 'two');
    await assertServedAndQuiet(client);

    // Events on the channels it holds still arrive.
    await server.sdk(LIMITED).trigger('one', 'still-here', { n: 1 });
    const event = await within(client.next('still-here'), GUARD_MS, 'event on a held channel');
    assert.deepEqual(event, { event: 'still-here', channel: 'one', data: '{"n":1}' });

    client.send({ event: 'pusher:unsubscribe', data: { channel: 'two' } });
    assertSucceeded(await subscribe(client, 'four'), 'four');
    assertRefused(await subscribe(client, 'five'), 'five', 'LimitReached', 4303);
    assert.deepEqual(await occupied(server, LIMITED, ''), ['four', 'one', 'three']);
    await assertServedAndQuiet(client);
  });

  test('a refusal on one connection leaves the others theirs: the limit is per connection', async () => {
    const first = (await connect()).client;
    const second = (await connect()).client;
    for (const channel of ['a', 'b', 'c']) assertSucceeded(await subscribe(first, channel), channel);
    assertRefused(await subscribe(first, 'd'), 'd', 'LimitReached', 4303);
    for (const channel of ['d', 'e', 'f']) assertSucceeded(await subscribe(second, channel), channel);
    await assertServedAndQuiet(first);
  });

  test('a pipelined burst of presence subscribes, each waiting on the presence store, does not overshoot', async () => {
    const { client, socketId } = await connect();
    const sdk = server.sdk(LIMITED);
    const channels = Array.from({ length: 10 }, (_, i) => `presence-burst-${i}`);
    // Every subscribe is on the wire before the first answer comes back.
    for (const channel of channels) {
      const auth = sdk.authorizeChannel(socketId, channel, { user_id: 'u1', user_info: { i: channel } });
      client.send({ event: 'pusher:subscribe', data: { channel, ...auth } });
    }
    const answers = [];
    for (const channel of channels) {
      answers.push(await within(client.next(isReply(channel)), GUARD_MS, `answer for ${channel}`));
    }
    const succeeded = answers.filter((f) => f.event === 'pusher_internal:subscription_succeeded');
    assert.deepEqual(
      succeeded.map((f) => f.channel),
      channels.slice(0, LIMIT),
      'the first ones in arrival order',
    );
    for (const refused of answers.slice(LIMIT)) {
      assert.equal(refused.event, 'pusher:subscription_error');
      assert.equal((refused.data as SubscriptionError).status, 429);
    }
    const errors = [];
    for (let i = LIMIT; i < channels.length; i++) {
      errors.push(await within(client.next('pusher:error'), GUARD_MS, 'pusher:error 4303'));
    }
    assert.ok(errors.every((f) => (f.data as { code: unknown }).code === 4303));
    assert.deepEqual(await occupied(server, LIMITED, 'presence-burst-'), channels.slice(0, LIMIT).sort());
    await assertServedAndQuiet(client);
  });

  test('null is no limit: a pipelined burst past the default 1000 all succeeds', async () => {
    const { ws, result } = await burst(server.wsUrl(UNLIMITED.key), 'free-', 1_200);
    try {
      assert.deepEqual(result, { succeeded: 1_200, refused: 0, limitErrors: 0, other: 0 });
      assert.equal((await occupied(server, UNLIMITED, 'free-')).length, 1_200);
    } finally {
      ws.close();
    }
  });

  test('pusher-js and Laravel Echo see the refusal on the channel over the limit', async () => {
    const client = server.client({}, LIMITED.key);
    await within(connected(client), GUARD_MS, 'pusher-js to connect');
    const connectionErrors: unknown[] = [];
    client.connection.bind('error', (err: unknown) => connectionErrors.push(err));
    for (const name of ['js-1', 'js-2', 'js-3']) {
      const channel = client.subscribe(name);
      await within(
        new Promise((resolve) => channel.bind('pusher:subscription_succeeded', resolve)),
        GUARD_MS,
        `${name} subscribed`,
      );
    }
    const over = client.subscribe('js-4');
    const refusal = await within(
      new Promise<SubscriptionError>((resolve) => over.bind('pusher:subscription_error', resolve)),
      GUARD_MS,
      'pusher:subscription_error on js-4',
    );
    assert.equal(refusal.type, 'LimitReached');
    assert.equal(refusal.status, 429);
    assert.equal(over.subscribed, false);
    await until(() => connectionErrors.length > 0, 'pusher:error on the connection', GUARD_MS);
    assert.equal((connectionErrors[0] as { data: { code: number } }).data.code, 4303);
    assert.equal(client.connection.state, 'connected');

    const echo = new Echo({
      broadcaster: 'reverb',
      key: LIMITED.key,
      wsHost: '127.0.0.1',
      wsPort: server.port,
      forceTLS: false,
      enabledTransports: ['ws'],
      // Echo's typings name pusher-js's ES default export, which NodeNext types as the module object.
      Pusher: Pusher as never,
    });
    echos.push(echo);
    for (const name of ['echo-1', 'echo-2', 'echo-3']) {
      await within(
        new Promise<void>((resolve) => echo.channel(name).subscribed(() => resolve())),
        GUARD_MS,
        `Echo ${name} subscribed`,
      );
    }
    const error = await within(
      new Promise<SubscriptionError>((resolve) => echo.channel('echo-4').error(resolve)),
      GUARD_MS,
      'Echo .error() on echo-4',
    );
    assert.equal(error.type, 'LimitReached');
    assert.equal(error.status, 429);
    assert.equal(typeof error.error, 'string');
  });
});

/**
 * `bin/herald.js` in a process of its own, so that its resident memory (read from its `/metrics`)
 * is the server's alone, without this test's clients.
 */
async function spawnHerald(apps: unknown[]): Promise<{ port: number; child: ChildProcess }> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_') && k !== 'NODE_TEST_CONTEXT'),
  );
  const child = spawn(process.execPath, [BIN, 'start', '--host', '127.0.0.1', '--port', '0'], {
    env: { ...env, HERALD_LOG_LEVEL: 'silent', HERALD_APPS: JSON.stringify(apps) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const port = new Promise<number>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const m = /wsPort: (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`herald exited (${code}) before listening: ${out}`)));
  });
  return { port: await within(port, GUARD_MS, 'herald to listen'), child };
}

async function residentBytes(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  const m = /^herald_process_resident_memory_bytes (\d+)$/m.exec(await response.text());
  assert.ok(m, 'resident memory on /metrics');
  return Number(m[1]);
}

describe('a flood of subscribes on one connection', () => {
  test("100,000 pipelined subscribes: the default 1000 kept, the server's memory bounded", async (t) => {
    const { port, child } = await spawnHerald([APP]);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let flood: WebSocket | undefined;
    try {
      let before = 0;
      let warm = 0;
      const url = `ws://127.0.0.1:${port}/app/${APP.key}?protocol=7`;
      const { ws, result } = await burst(url, 'flood-', 100_000, async (start) => {
        if (start === 0) before = await residentBytes(port);
        if (start === 10_000) warm = await residentBytes(port);
      });
      flood = ws;
      assert.deepEqual(result, { succeeded: 1_000, refused: 99_000, limitErrors: 99_000, other: 0 });
      const sdk = new PusherServer({
        appId: APP.id,
        key: APP.key,
        secret: APP.secret,
        host: '127.0.0.1',
        port: String(port),
      });
      const response = await sdk.get({ path: '/channels', params: { filter_by_prefix: 'flood-' } });
      const kept = Object.keys(((await response.json()) as { channels: object }).channels);
      assert.equal(kept.length, 1_000);
      assert.ok(
        kept.every((channel) => Number(channel.slice('flood-'.length)) < 1_000),
        'the first 1000',
      );
      // About 0.85 KB a subscription: the 90,000 after the first 10,000 would cost some 76 MB if they
      // were kept. What growth there is comes with the traffic (buffers, a heap sized for it; 100,000
      // pings cost about as much), and how much of it RSS shows depends on when V8 collects: alone
      // 0–25 MiB after the first 10,000, up to 41 MiB while the whole suite runs beside it. Past
      // 50 MiB, more than half of what keeping them would cost, something is kept.
      const after = await residentBytes(port);
      const mib = (bytes: number) => `${Math.round(bytes / MiB)} MiB`;
      t.diagnostic(`resident memory grew ${mib(after - before)}, ${mib(after - warm)} after 10,000`);
      assert.ok(after - warm < 50 * MiB, `resident memory grew ${mib(after - warm)} after 10,000`);
    } finally {
      flood?.close();
      child.kill('SIGTERM');
      await within(exited, GUARD_MS, 'herald to exit');
    }
  });
});

describe('the memory ceiling (maxMemoryMB) and the refusal metrics', () => {
  test('over the ceiling a new subscription gets 429 and 4304, held ones keep their events; both limits counted on /metrics', async () => {
    let rss = 10 * MiB;
    const server = await startHerald(
      { maxMemoryMB: 64, apps: [{ ...LIMITED, maxSubscriptionsPerConnection: 2 }] },
      { rss: () => rss },
    );
    try {
      const { client } = await within(RawClient.connect(server.wsUrl(LIMITED.key)), GUARD_MS, 'handshake');
      assertSucceeded(await subscribe(client, 'held'), 'held');
      assertSucceeded(await subscribe(client, 'spare'), 'spare');
      assertRefused(await subscribe(client, 'third'), 'third', 'LimitReached', 4303);
      client.send({ event: 'pusher:unsubscribe', data: { channel: 'spare' } });

      rss = 100 * MiB;
      await until(() => server.herald.memory.over, 'the ceiling to see the new sample', GUARD_MS);
      assertRefused(await subscribe(client, 'third'), 'third', 'OverCapacity', 4304);
      assertRefused(await subscribe(client, 'fourth'), 'fourth', 'OverCapacity', 4304);
      assertSucceeded(await subscribe(client, 'held'), 'held');
      await assertServedAndQuiet(client);
      assert.deepEqual(await occupied(server, LIMITED, ''), ['held']);
      await server.sdk(LIMITED).trigger('held', 'while-over', { ok: true });
      const event = await within(client.next('while-over'), GUARD_MS, 'event while over the ceiling');
      assert.deepEqual(event, { event: 'while-over', channel: 'held', data: '{"ok":true}' });

      const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
      assert.match(metrics, /^herald_limit_refusals_total\{limit="subscriptions_per_connection"\} 1$/m);
      assert.match(metrics, /^herald_limit_refusals_total\{limit="memory"\} 2$/m);

      // Back under 90 % of the ceiling: subscriptions are accepted again.
      rss = 10 * MiB;
      await until(() => !server.herald.memory.over, 'the ceiling to see memory back under', GUARD_MS);
      assertSucceeded(await subscribe(client, 'third'), 'third');
      client.close();
    } finally {
      await server.stop();
    }
  });
});
