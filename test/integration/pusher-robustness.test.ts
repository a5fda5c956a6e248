import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { type PusherFrame, RawClient, within } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';

let server: TestHerald;
const MAX_MESSAGE = 2048;
const MAX_BUFFERED = 512 * 1024;

before(async () => {
  server = await startHerald({ maxMessageBytes: MAX_MESSAGE, maxBufferedBytes: MAX_BUFFERED });
});
after(() => server.stop());

async function stillServes(client: RawClient): Promise<void> {
  client.send({ event: 'pusher:ping', data: {} });
  assert.equal((await within(client.next('pusher:pong'), 5000, 'pong')).event, 'pusher:pong');
}

function errorOf(frame: PusherFrame): { code: number | null; message: string } {
  assert.equal(frame.event, 'pusher:error');
  return frame.data as { code: number | null; message: string };
}

test('malformed frames get pusher:error with a reason and the socket stays open', async () => {
  const { client } = await RawClient.connect(server.wsUrl());
  const cases = [
    '{not json',
    '[]',
    '42',
    '"text"',
    '{"data":{}}',
    '{"event":7}',
    '{"event":"x","channel":5}',
  ];
  for (const text of cases) {
    client.send(text);
    const error = errorOf(await within(client.next('pusher:error'), 5000, `error for ${text}`));
    assert.equal(error.code, null);
    assert.match(error.message, /Invalid/);
  }
  client.send({ event: 'pusher:no-such-event', data: {} });
  assert.match(errorOf(await client.next('pusher:error')).message, /Unsupported event: pusher:no-such-event/);
  client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.match(errorOf(await client.next('pusher:error')).message, /Binary messages are not supported/);
  await stillServes(client);
  client.close();
});

test('a message over maxMessageBytes is refused with pusher:error, the socket stays open', async () => {
  const { client } = await RawClient.connect(server.wsUrl());
  client.send({ event: 'pusher:subscribe', data: { channel: 'a', pad: 'x'.repeat(MAX_MESSAGE) } });
  assert.match(errorOf(await client.next('pusher:error')).message, /too large/);
  await stillServes(client);
  client.close();
});

test('1,000 garbage frames from one client: each answered, other clients keep being served', async () => {
  const { client: flooder } = await RawClient.connect(server.wsUrl());
  const { client: bystander } = await RawClient.connect(server.wsUrl());
  await bystander.subscribe('bystander');
  for (let i = 0; i < 1000; i++) flooder.send(`garbage ${i} {`);
  const published = server.sdk().trigger('bystander', 'still-here', 'yes');
  const event = await within(bystander.next('still-here'), 5000, 'event during flood');
  assert.equal(event.data, 'yes');
  assert.equal((await published).status, 200);
  for (let i = 0; i < 1000; i++) await within(flooder.next('pusher:error'), 5000, `error ${i}`);
  await stillServes(flooder);
  flooder.close();
  bystander.close();
});

test('frames queued in one event-loop turn leave the server in one write', async () => {
  const { client } = await RawClient.connect(server.wsUrl());
  await client.subscribe('coalesce');
  // The server's end of this connection is the socket whose remote port is the client's local port.
  const clientPort = (client.ws as unknown as { _socket: Socket })._socket.localPort;
  const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  const original = { write: proto._write, writev: proto._writev };
  const writes: number[] = [];
  proto._write = function (this: Socket, ...args: unknown[]) {
    if (this.remotePort === clientPort) writes.push(1);
    return original.write.apply(this, args);
  };
  proto._writev = function (this: Socket, ...args: unknown[]) {
    if (this.remotePort === clientPort) writes.push((args[0] as unknown[]).length);
    return original.writev.apply(this, args);
  };
  try {
    const batch = Array.from({ length: 10 }, (_, i) => ({
      channel: 'coalesce',
      name: `e${i}`,
      data: String(i),
    }));
    assert.equal((await server.sdk().triggerBatch(batch)).status, 200);
    for (let i = 0; i < 10; i++)
      assert.equal((await within(client.next(`e${i}`), 5000, `e${i}`)).data, String(i));
  } finally {
    proto._write = original.write;
    proto._writev = original.writev;
  }
  assert.deepEqual(writes, [10], 'one writev carrying the ten frames');
  client.close();
});

/** Resolves once `socket` has received text containing `marker`. */
function received(socket: Socket, marker: string): Promise<void> {
  let seen = '';
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (seen.includes(marker)) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
  });
}

/** A WebSocket client that completes the handshake and subscribes, then never reads again. */
async function stalledClient(port: number, channel: string): Promise<Socket> {
  const socket = new Socket();
  await new Promise<void>((resolve) => socket.connect(port, '127.0.0.1', resolve));
  const established = received(socket, 'connection_established');
  socket.write(
    `GET /app/${APP.key}?protocol=7 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await established;
  const payload = Buffer.from(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
  assert.ok(payload.length < 126, 'one-byte length form');
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  const subscribed = received(socket, 'subscription_succeeded');
  socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
  await subscribed;
  socket.pause();
  return socket;
}

test('a client that stops reading is cut off once its buffer passes the cap; others get everything', async () => {
  const pusher = server.herald.pusher;
  const appConfig = server.herald.config.apps[0]!;
  const stalled = await stalledClient(server.port, 'firehose');
  const { client: healthy } = await RawClient.connect(server.wsUrl());
  await healthy.subscribe('firehose');
  await until(() => pusher.subscriptionCount(appConfig, 'firehose') === 2, 'both subscribed');

  const rssBefore = process.memoryUsage().rss;
  const data = 'x'.repeat(10_000);
  const sdk = server.sdk();
  const total = 1000; // 10 MB in all, 20 times the cap
  let received = 0;
  const all = new Promise<void>((resolve) => {
    healthy.ws.on('message', () => {
      if (++received === total) resolve();
    });
  });
  for (let i = 0; i < total; i += 10) {
    const batch = Array.from({ length: 10 }, () => ({ channel: 'firehose', name: 'chunk', data }));
    assert.equal((await sdk.triggerBatch(batch)).status, 200);
  }
  await within(all, 20_000, 'every chunk at the healthy client');
  await until(() => pusher.subscriptionCount(appConfig, 'firehose') === 1, 'the stalled client dropped');
  const growth = process.memoryUsage().rss - rssBefore;
  assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${growth} bytes`);

  // What reached the stalled client is bounded by the cap plus kernel buffers, far below 10 MB.
  stalled.resume();
  let bytes = 0;
  stalled.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  await within(new Promise((resolve) => stalled.once('close', resolve)), 10_000, 'stalled socket closed');
  assert.ok(bytes < 8 * 1024 * 1024, `stalled client got ${bytes} bytes`);
  healthy.close();
});
