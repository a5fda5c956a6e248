import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type AutobahnConnection,
  type AutobahnSession,
  autobahn,
  closeAutobahn,
  openAutobahn,
} from '../helpers/autobahn.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { RawWampClient } from '../helpers/wamp-client.js';

/**
 * Message sizes as Crossbar.io allows them: with the defaults, a WAMP message may be up to 16 MiB
 * (RawSocket's largest) over WebSocket and over RawSocket, and reaches subscribers of either, even
 * past `maxBufferedBytes` (4 MiB), which a single message does not count against.
 */

const GUARD_MS = 30_000;
const MiB = 1024 * 1024;

describe('WAMP messages up to 16 MiB with the default limits', () => {
  let h: TestHerald;
  const connections: AutobahnConnection[] = [];

  const join = async (transport: 'websocket' | 'rawsocket', serializer: 'json' | 'msgpack') => {
    const serializers = [
      serializer === 'json'
        ? new autobahn.serializer.JSONSerializer()
        : new autobahn.serializer.MsgpackSerializer(),
    ];
    const { connection, session } = await openAutobahn(
      transport === 'websocket'
        ? { url: `ws://127.0.0.1:${h.port}/ws`, realm: 'realm1', serializers }
        : { transports: [{ type: 'rawsocket', host: '127.0.0.1', port: h.port }], realm: 'realm1' },
    );
    connections.push(connection);
    return session;
  };

  /** The next event of `topic` on `session`, its first argument. */
  const nextEvent = async (session: AutobahnSession, topic: string) => {
    let resolve: (value: unknown) => void = () => {};
    const received = new Promise<unknown>((r) => {
      resolve = r;
    });
    await session.subscribe(topic, (args) => resolve(args[0]));
    return received;
  };

  before(async () => {
    h = await startHerald();
  });
  after(async () => {
    for (const c of connections) await closeAutobahn(c);
    await h.stop();
  });

  for (const size of [1 * MiB, 12 * MiB]) {
    test(`a ${size / MiB} MiB publication reaches a WebSocket and a RawSocket subscriber`, async () => {
      const topic = `com.size.t${size}`;
      const overWebSocket = nextEvent(await join('websocket', 'msgpack'), topic);
      const overRawSocket = nextEvent(await join('rawsocket', 'json'), topic);
      await new Promise((r) => setImmediate(r));
      const publisher = await join('websocket', 'json');
      const payload = 'x'.repeat(size - 200).replace(/x(?=x{1000}$)/, 'y');
      const published = await within(
        publisher.publish(topic, [payload], {}, { acknowledge: true, exclude_me: true })!,
        GUARD_MS,
        'PUBLISHED',
      );
      assert.ok(published.id > 0);
      assert.equal(await within(overWebSocket, GUARD_MS, 'the WebSocket EVENT'), payload);
      assert.equal(await within(overRawSocket, GUARD_MS, 'the RawSocket EVENT'), payload);
    });
  }

  test('a message over 16 MiB aborts its session with payload_size_exceeded; others stay', async () => {
    const other = await RawWampClient.join(`ws://127.0.0.1:${h.port}/ws`);
    const big = await RawWampClient.join(`ws://127.0.0.1:${h.port}/ws`);
    try {
      big.send([16, big.id(), {}, 'com.size.big', ['x'.repeat(16 * MiB + 1)]]);
      const abort = await within(big.next(3), GUARD_MS, 'ABORT');
      assert.equal(abort[2], 'wamp.error.payload_size_exceeded');
      const request = other.id();
      other.send([16, request, { acknowledge: true }, 'com.size.small', ['still served']]);
      assert.equal((await within(other.reply(request, [17, 8]), GUARD_MS, 'PUBLISHED'))[0], 17);
    } finally {
      other.close();
      big.close();
    }
  });
});
