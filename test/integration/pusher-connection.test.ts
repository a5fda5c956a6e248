import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { APP, connected, startHerald, type TestHerald } from '../helpers/herald.js';
import { type PusherFrame, RawClient, within } from '../helpers/raw-client.js';

/**
 * Connection lifecycle of the Pusher protocol (Pusher docs, Channels protocol): handshake, protocol
 * versions, refusals with close codes, ping/pong, liveness and shutdown.
 */

const SOCKET_ID = /^\d+\.\d+$/;
const DISABLED = { id: 'disabled-id', key: 'disabled-key', secret: 'disabled-secret', enabled: false };
const SMALL = { id: 'small-id', key: 'small-key', secret: 'small-secret', maxConnections: 2 };

let server: TestHerald;
const opened: RawClient[] = [];

before(async () => {
  server = await startHerald({ apps: [{ ...APP, clientEvents: true }, DISABLED, SMALL] });
});
afterEach(() => {
  for (const client of opened.splice(0)) client.close();
});
after(() => server.stop());

async function connect(url: string): Promise<{ client: RawClient; socketId: string }> {
  const connection = await within(RawClient.connect(url), 5000, `handshake at ${url}`);
  opened.push(connection.client);
  return connection;
}

async function open(url: string): Promise<RawClient> {
  const client = await within(RawClient.open(url), 5000, `upgrade at ${url}`);
  opened.push(client);
  return client;
}

function handshakeData(frame: PusherFrame): { socket_id: unknown; activity_timeout: unknown } {
  assert.equal(frame.event, 'pusher:connection_established');
  assert.equal(typeof frame.data, 'string', 'connection_established data must be a JSON string');
  return JSON.parse(frame.data as string);
}

/**
 * Waits for the server to close `client` and checks the close code is `code`, that the last frame
 * before the close was `pusher:error` with that same code, and that the code is not a 43xx code
 * (pusher-js gives up on those). Returns the error frame's message.
 */
async function closedWith(client: RawClient, code: number, what: string): Promise<string> {
  const close = await within(client.closed, 10_000, `close ${code} (${what})`);
  const last = client.frames.at(-1);
  assert.equal(last?.event, 'pusher:error', `${what}: a pusher:error must precede the close`);
  const error = last.data as { code: unknown; message: unknown };
  assert.equal(error.code, code, `${what}: pusher:error code`);
  assert.equal(typeof error.message, 'string');
  assert.equal(close.code, code, `${what}: close code`);
  assert.ok(close.code < 4300, `${what}: 43xx codes are never close codes`);
  return error.message as string;
}

/** `closedWith` for a connection refused during the handshake: the error is its only frame. */
async function refusedWith(client: RawClient, code: number, what: string): Promise<string> {
  const message = await closedWith(client, code, what);
  assert.deepEqual(
    client.frames.map((f) => f.event),
    ['pusher:error'],
    `${what}: nothing but the error is sent`,
  );
  return message;
}

describe('handshake', () => {
  test('the pusher-js URL upgrades and the first frame is connection_established', async () => {
    const client = await open(server.wsUrl());
    const first = await within(client.next(), 5000, 'first frame');
    const data = handshakeData(first);
    assert.deepEqual(Object.keys(first).sort(), ['data', 'event']);
    assert.equal(typeof data.socket_id, 'string');
    assert.match(data.socket_id as string, SOCKET_ID);
    assert.ok(Number.isInteger(data.activity_timeout), 'activity_timeout is an integer');
    assert.ok((data.activity_timeout as number) > 0, 'activity_timeout is positive');
    assert.equal(data.activity_timeout, 120, 'the configured default is announced');
  });

  test('pusher-js reaches connected with a valid socket_id', async () => {
    const client = server.client();
    const socketId = await within(connected(client), 5000, 'pusher-js connected');
    assert.match(socketId, SOCKET_ID);
    client.disconnect();
  });

  test('200 concurrent connections get 200 distinct socket ids', async () => {
    const connections = await Promise.all(Array.from({ length: 200 }, () => connect(server.wsUrl())));
    const ids = connections.map((c) => c.socketId);
    for (const id of ids) assert.match(id, SOCKET_ID);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('protocols 4, 5, 6 and 7 are accepted, a missing one means 7, unknown params are ignored', async () => {
    const queries = [
      'protocol=4',
      'client=java-client&protocol=5&version=2.4.4',
      'protocol=6',
      'client=pusher-websocket-swift&version=10.1.5&protocol=7',
      'client=js&version=8.6.0',
      'protocol=7&unknown=1&another=x',
    ];
    for (const query of queries) {
      const client = await open(server.wsUrl(APP.key, query));
      const data = handshakeData(await within(client.next(), 5000, `handshake for ${query}`));
      assert.match(data.socket_id as string, SOCKET_ID, query);
    }
  });

  test('protocols 1–3 are refused with 4007, above 7 with 4007', async () => {
    for (const version of ['1', '2', '3']) {
      const client = await open(server.wsUrl(APP.key, `protocol=${version}`));
      assert.match(await refusedWith(client, 4007, `protocol=${version}`), /no longer supported/);
    }
    const client = await open(server.wsUrl(APP.key, 'protocol=8'));
    assert.match(await refusedWith(client, 4007, 'protocol=8'), /Unsupported protocol version/);
  });

  test('a protocol that is not an integer is refused with 4006', async () => {
    for (const version of ['abc', '7.5', '-7', '']) {
      const client = await open(server.wsUrl(APP.key, `protocol=${encodeURIComponent(version)}`));
      assert.match(await refusedWith(client, 4006, `protocol=${version}`), /Invalid version string format/);
    }
  });

  test('an unknown app key gets pusher:error 4001 and close 4001', async () => {
    const client = await open(server.wsUrl('no-such-key'));
    const message = await refusedWith(client, 4001, 'unknown key');
    assert.match(message, /App key no-such-key not in this cluster/);
  });

  test('pusher-js with an unknown key goes to disconnected and does not retry', async () => {
    const client = server.client({}, 'no-such-key');
    const states = [client.connection.state];
    const errors: unknown[] = [];
    client.connection.bind('error', (error: unknown) => errors.push(error));
    const settled = new Promise<string>((resolve) => {
      client.connection.bind('state_change', ({ current }: { current: string }) => {
        states.push(current);
        if (current === 'disconnected' || current === 'failed') resolve(current);
      });
    });
    await within(settled, 5000, 'pusher-js to give up');
    assert.deepEqual(states, ['connecting', 'disconnected']);
    assert.deepEqual(errors, [
      {
        type: 'WebSocketError',
        error: {
          type: 'PusherError',
          data: {
            code: 4001,
            message: 'App key no-such-key not in this cluster. Did you forget to specify the cluster?',
          },
        },
      },
    ]);
    // pusher-js schedules every reconnect through its retry timer; none is pending after a refusal.
    const manager = client.connection as unknown as { retryTimer: unknown; runner: unknown };
    assert.equal(manager.retryTimer ?? null, null);
    assert.equal(manager.runner ?? null, null);
    client.disconnect();
  });

  test('a disabled app is refused with 4003', async () => {
    const client = await open(server.wsUrl(DISABLED.key));
    assert.match(await refusedWith(client, 4003, 'disabled app'), /disabled/);
  });

  test('with maxConnections 2 the third connection is refused with 4004', async () => {
    const first = await connect(server.wsUrl(SMALL.key));
    const second = await connect(server.wsUrl(SMALL.key));
    const third = await open(server.wsUrl(SMALL.key));
    assert.match(await refusedWith(third, 4004, 'third connection'), /over connection quota/);
    // The limit is per app, and the two admitted connections are untouched.
    await connect(server.wsUrl(APP.key));
    for (const { client } of [first, second]) {
      client.send({ event: 'pusher:ping' });
      await within(client.next('pusher:pong'), 5000, 'pong from an admitted connection');
    }
  });
});

describe('ping and pong', () => {
  test('each of the three ping forms gets pusher:pong', async () => {
    const { client } = await connect(server.wsUrl());
    const pings = [
      { event: 'pusher:ping', data: {} },
      { event: 'pusher:ping' },
      { event: 'pusher:ping', data: '{}' },
    ];
    for (const ping of pings) {
      client.send(ping);
      const pong = await within(client.next(), 5000, `pong for ${JSON.stringify(ping)}`);
      assert.deepEqual(pong, { event: 'pusher:pong', data: '{}' });
    }
  });

  test('a client pong to nothing is ignored silently', async () => {
    const { client } = await connect(server.wsUrl());
    client.send({ event: 'pusher:pong', data: {} });
    client.send({ event: 'pusher:ping', data: {} });
    assert.equal((await within(client.next(), 5000, 'next frame')).event, 'pusher:pong');
  });
});

describe('liveness', () => {
  let live: TestHerald;
  before(async () => {
    live = await startHerald({ activityTimeoutSeconds: 1, pongTimeoutSeconds: 1 });
  });
  after(() => live.stop());

  test('a silent client is pinged then closed with 4201; one that answers stays open', async () => {
    const silent = await open(live.wsUrl());
    const handshake = handshakeData(await within(silent.next(), 5000, 'handshake'));
    assert.equal(handshake.activity_timeout, 1, 'the configured activity timeout is announced');
    const answering = await connect(live.wsUrl());

    const ping = await within(silent.next('pusher:ping'), 5000, 'ping to the silent client');
    assert.deepEqual(ping, { event: 'pusher:ping', data: '{}' });
    const silentClosed = closedWith(silent, 4201, 'silent client');

    // Answer three pings in a row: the third comes at least two pong windows after the first.
    for (let n = 1; n <= 3; n++) {
      await within(answering.client.next('pusher:ping'), 5000, `ping ${n} to the answering client`);
      answering.client.send({ event: 'pusher:pong', data: {} });
    }
    assert.match(await silentClosed, /Pong reply not received/);
    assert.equal(answering.client.ws.readyState, answering.client.ws.OPEN);
    answering.client.send({ event: 'pusher:ping', data: {} });
    await within(answering.client.next('pusher:pong'), 5000, 'pong after the silent client was closed');
  });
});

describe('shutdown', () => {
  test('stop() sends every client pusher:error 4200 then close 4200', async () => {
    const stopping = await startHerald();
    try {
      const clients = await Promise.all([0, 1, 2].map(() => connect(stopping.wsUrl())));
      const auth = stopping.sdk().authorizeChannel(clients[2]!.socketId, 'private-some-channel').auth;
      const subscribed = await Promise.all([
        clients[1]!.client.subscribe('some-channel'),
        clients[2]!.client.subscribe('private-some-channel', { auth }),
      ]);
      for (const frame of subscribed) assert.equal(frame.event, 'pusher_internal:subscription_succeeded');
      const closes = clients.map(({ client }, i) => closedWith(client, 4200, `client ${i}`));
      await within(stopping.stop(), 10_000, 'stop()');
      for (const message of await Promise.all(closes)) assert.ok(message.length > 0);
    } finally {
      await stopping.stop();
    }
  });
});
