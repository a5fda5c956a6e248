import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { closeAutobahn, openAutobahn } from '../helpers/autobahn.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { autobahnPythonSkip, cborPythonSkip, PythonClient } from '../helpers/python.js';
import { within } from '../helpers/raw-client.js';
import { RawWampClient } from '../helpers/wamp-client.js';
import { newWampy } from '../helpers/wampy.js';

const skip = autobahnPythonSkip();
const noCbor = cborPythonSkip();

describe('WAMP with autobahn-python 22.7.1 (Debian)', { skip }, () => {
  let h: TestHerald;
  let url: string;
  const pythons: PythonClient[] = [];
  const python = (script: string, ...args: string[]) => {
    const p = new PythonClient(script, args);
    pythons.push(p);
    return p;
  };

  before(async () => {
    h = await startHerald({ wamp: { killTimeoutMs: 300 } });
    url = `ws://127.0.0.1:${h.port}/ws`;
  });
  after(async () => {
    for (const p of pythons) p.kill();
    await Promise.all(pythons.map((p) => p.exited));
    await h.stop();
  });

  // The default list starts with cbor.batched when python3-cbor2 is installed, else msgpack.batched;
  // json.batched is autobahn-python's 0x18 framing (docs/wamp.md, "Connecting clients").
  const negotiated = {
    json: 'json',
    msgpack: 'msgpack',
    cbor: 'cbor',
    'json-batched': 'json.batched',
    'msgpack-batched': 'msgpack.batched',
    'cbor-batched': 'cbor.batched',
    default: noCbor ? 'msgpack.batched' : 'cbor.batched',
  } as const;
  for (const serializer of Object.keys(negotiated) as (keyof typeof negotiated)[]) {
    const needsCbor = serializer.startsWith('cbor') && noCbor;
    test(`asyncio (${serializer}): join, register/call, subscribe/publish, leave`, {
      skip: needsCbor,
    }, async () => {
      const p = python('client.py', 'roundtrip', url, serializer);
      const joined = await within(p.next('joined'), 10_000, 'join');
      assert.equal(joined.serializer, negotiated[serializer]);
      assert.equal(joined.authrole, 'anonymous');
      assert.deepEqual(await within(p.next('call'), 5000, 'call'), { call: 5 });
      assert.deepEqual(await within(p.next('event'), 5000, 'event'), {
        event: [['hello', 1], { key: 'value' }],
      });
      assert.deepEqual(await within(p.next('left'), 5000, 'leave'), { left: 'wamp.close.goodbye_and_out' });
      assert.equal(await within(p.exited, 5000, 'exit'), 0);
    });
  }

  for (const serializer of ['json', 'msgpack'] as const) {
    test(`Twisted (${serializer}): progressive call results, pub/sub, leave`, async () => {
      const p = python('twisted_client.py', url, serializer);
      assert.equal((await within(p.next('joined'), 10_000, 'join')).serializer, serializer);
      assert.deepEqual(await within(p.next('result'), 5000, 'result'), {
        progress: [0, 1, 2],
        result: 'done',
      });
      assert.deepEqual(await within(p.next('event'), 5000, 'event'), { event: 'tx' });
      assert.deepEqual(await within(p.next('left'), 5000, 'leave'), { left: 'wamp.close.goodbye_and_out' });
    });
  }

  test('a Python callee called from autobahn-js (json) and wampy (msgpack), with progressive results', async () => {
    const p = python('client.py', 'callee', url, 'msgpack', 'com.py.sum');
    await within(p.next('ready'), 10_000, 'python callee');
    const { connection, session } = await openAutobahn({ url, realm: 'realm1' });
    try {
      assert.equal(await session.call('com.py.sum', [1, 2, 3]), 6);
      const w = newWampy(url);
      await w.connect();
      const progress: unknown[] = [];
      const result = await w.call('com.py.sum', { argsList: [4, 5] }, {
        progress_callback: (r: { argsList?: unknown[] }) => progress.push(r.argsList?.[0]),
      } as never);
      assert.deepEqual([progress, result.argsList], [[4, 5], [9]]);
      await w.disconnect();
    } finally {
      await closeAutobahn(connection);
    }
  });

  test('a JS subscriber receives from a Python publisher, msgpack bytes converted for JSON', async () => {
    const p = python('client.py', 'publisher', url, 'msgpack', 'com.py.ticks');
    await within(p.next('ready'), 10_000, 'python publisher');
    const { connection, session } = await openAutobahn({ url, realm: 'realm1' });
    try {
      const received = new Promise<unknown[]>((resolve) => {
        void session.subscribe('com.py.ticks', (args) => resolve(args));
      });
      const [tick, bytes] = (await within(received, 5000, 'tick')) as [{ n: number }, string];
      assert.equal(typeof tick.n, 'number');
      assert.equal(bytes, '\u0000AQI=');
    } finally {
      await closeAutobahn(connection);
    }
  });

  test('CANCEL kill to an asyncio callee, which never answers: the caller gets canceled, the callee lives on', async () => {
    const p = python('client.py', 'killable', url, 'json', 'com.py.forever');
    await within(p.next('ready'), 10_000, 'python callee');
    const caller = await RawWampClient.join(url);
    try {
      const request = caller.id();
      caller.send([48, request, {}, 'com.py.forever']);
      caller.send([49, request, { mode: 'kill' }]);
      // autobahn-python announces call_canceling, so it gets INTERRUPT; its asyncio callee never answers
      // one (docs/wamp.md, "What the router implements"), and wamp.killTimeoutMs ends the call.
      const reply = await within(
        caller.next((m) => m[0] === 8 && m[2] === request),
        5000,
        'ERROR',
      );
      assert.deepEqual(reply.slice(4), ['wamp.error.canceled', ['callee did not answer the cancel']]);
      assert.deepEqual((await caller.call('com.py.forever.ping')).slice(3), [['pong']]);
    } finally {
      caller.close();
    }
  });
});
