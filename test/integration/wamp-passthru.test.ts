import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { MsgpackSerializer } from 'wampy/MsgpackSerializer.js';
import { within } from '../helpers/raw-client.js';
import {
  PASSTHRU_ROLES,
  RawWampClient,
  type Serialization,
  type WampMessage,
} from '../helpers/wamp-client.js';
import { wampServer } from '../helpers/wamp-server.js';
import { newWampy, type Wampy } from '../helpers/wampy.js';

/**
 * Payload passthru mode (WAMP spec, Advanced Profile, Payload Passthru Mode): the router forwards the
 * payload of a PUBLISH, CALL, YIELD or ERROR with `ppt_scheme` untouched, with the `ppt_*` options in
 * the Details, only to peers that announced the feature; on JSON, MessagePack and CBOR, by hand and with wampy.
 */

const GUARD_MS = 5000;
const PPT = {
  ppt_scheme: 'x_custom',
  ppt_serializer: 'cbor',
  ppt_cipher: 'xsalsa20poly1305',
  ppt_keyid: 'k1',
};
const BYTES = new Uint8Array([0, 1, 2, 0x80, 0xfe, 0xff]);

/** The bytes of a binary payload item as either serializer hands it over. */
const bytesOf = (item: unknown, serialization: Serialization) =>
  serialization === 'json'
    ? [...Buffer.from((item as string).slice(1), 'base64')]
    : [...(item as Uint8Array)];
/** The binary item as a JSON client must send it (`\0` + base64), or the bytes for MessagePack. */
const binary = (serialization: Serialization) =>
  serialization === 'json' ? `\0${Buffer.from(BYTES).toString('base64')}` : BYTES;

describe('WAMP payload passthru mode', () => {
  const server = wampServer();
  const wampys: Wampy[] = [];
  after(async () => {
    for (const w of wampys) await w.disconnect().catch(() => {});
  });
  const join = (serialization: Serialization, passthru: boolean) =>
    server.join({ serialization, ...(passthru ? { details: { roles: PASSTHRU_ROLES } } : {}) });

  test('WELCOME announces payload_passthru_mode on the broker and the dealer', async () => {
    const client = server.track(await RawWampClient.open(server.url));
    const welcome = await client.hello('realm1');
    const roles = (welcome[2] as { roles: Record<string, { features: Record<string, boolean> }> }).roles;
    assert.equal(roles.broker!.features.payload_passthru_mode, true);
    assert.equal(roles.dealer!.features.payload_passthru_mode, true);
  });

  for (const serialization of ['json', 'msgpack', 'cbor'] as const) {
    const other = ({ json: 'msgpack', msgpack: 'cbor', cbor: 'json' } as const)[serialization];

    test(`${serialization}: a passthru PUBLISH reaches passthru subscribers on both serializers untouched, no one else`, async () => {
      const topic = `com.ppt.${serialization}.events`;
      const publisher = await join(serialization, true);
      const same = await join(serialization, true);
      const cross = await join(other, true);
      const plain = await join(serialization, false);
      const subs = await Promise.all([same, cross, plain].map((c) => c.subscribe(topic)));
      const request = publisher.id();
      publisher.send([16, request, { acknowledge: true, ...PPT }, topic, [binary(serialization)]]);
      assert.equal((await within(publisher.reply(request, [17, 8]), GUARD_MS, 'PUBLISHED'))[0], 17);
      for (const [client, sub] of [
        [same, subs[0]],
        [cross, subs[1]],
      ] as const) {
        const event = await within(
          client.next((m) => m[0] === 36 && m[1] === sub),
          GUARD_MS,
          'EVENT',
        );
        assert.deepEqual(event[3], PPT, 'the four ppt_* options in the Details');
        const args = event[4] as unknown[];
        assert.equal(args.length, 1);
        assert.deepEqual(bytesOf(args[0], client.serialization), [...BYTES]);
        assert.equal(event.length, 5, 'no ArgumentsKw');
      }
      // The subscriber without the feature got nothing: the next plain event is its first.
      publisher.send([16, publisher.id(), {}, topic, ['plain']]);
      const next = await within(plain.next(36), GUARD_MS, 'plain EVENT');
      assert.deepEqual(next[4], ['plain']);
      assert.equal(plain.messages.length, 0);
    });

    test(`${serialization}: a passthru CALL, YIELD and callee ERROR carry the ppt_* options both ways`, async () => {
      const procedure = `com.ppt.${serialization}.proc`;
      const callee = await join(other, true);
      const caller = await join(serialization, true);
      const registration = await callee.register(procedure);
      const request = caller.id();
      caller.send([48, request, PPT, procedure, [binary(serialization)]]);
      const invocation = await within(callee.next(68), GUARD_MS, 'INVOCATION');
      assert.equal(invocation[2], registration);
      assert.deepEqual(invocation[3], PPT);
      assert.deepEqual(bytesOf((invocation[4] as unknown[])[0], callee.serialization), [...BYTES]);
      const answer = { ppt_scheme: 'mqtt', ppt_serializer: 'mqtt' };
      callee.send([70, invocation[1], answer, [binary(other)]]);
      const result = await within(caller.reply(request, [50, 8]), GUARD_MS, 'RESULT');
      assert.equal(result[0], 50, JSON.stringify(result));
      assert.deepEqual(result[2], answer);
      assert.deepEqual(bytesOf((result[3] as unknown[])[0], serialization), [...BYTES]);

      const failing = caller.id();
      caller.send([48, failing, PPT, procedure, [binary(serialization)]]);
      const second = await within(callee.next(68), GUARD_MS, 'INVOCATION');
      const errorDetails = { ppt_scheme: 'wamp', ppt_serializer: 'flatbuffers', ppt_keyid: '0xabc' };
      callee.send([8, 68, second[1], errorDetails, 'com.ppt.failed', [binary(other)]]);
      const error = await within(caller.reply(failing, [50, 8]), GUARD_MS, 'ERROR');
      assert.deepEqual([error[0], error[3], error[4]], [8, errorDetails, 'com.ppt.failed']);
      assert.deepEqual(bytesOf((error[5] as unknown[])[0], serialization), [...BYTES]);
    });
  }

  test('a CALL in passthru mode to a callee without it, or to a router procedure: feature_not_supported', async () => {
    const plainCallee = await join('json', false);
    await plainCallee.register('com.ppt.plain');
    const caller = await join('msgpack', true);
    for (const procedure of ['com.ppt.plain', 'wamp.session.count']) {
      const reply = await within(caller.call(procedure, [BYTES], PPT), GUARD_MS, procedure);
      assert.deepEqual([reply[0], reply[4]], [8, 'wamp.error.feature_not_supported'], procedure);
    }
    assert.equal(plainCallee.messages.filter((m) => m[0] === 68).length, 0);
  });

  test('a passthru YIELD for a caller without the mode: feature_not_supported to the callee and the caller', async () => {
    const callee = await join('json', true);
    const caller = await join('json', false);
    await callee.register('com.ppt.answer');
    const request = caller.id();
    caller.send([48, request, {}, 'com.ppt.answer', ['question']]);
    const invocation = await within(callee.next(68), GUARD_MS, 'INVOCATION');
    assert.deepEqual(invocation[3], {}, 'a plain CALL has no ppt_* Details');
    callee.send([70, invocation[1], PPT, [binary('json')]]);
    const toCallee = await within(callee.next(8), GUARD_MS, 'ERROR to the callee');
    assert.deepEqual(
      [toCallee[1], toCallee[2], toCallee[4]],
      [68, invocation[1], 'wamp.error.feature_not_supported'],
    );
    const toCaller = await within(caller.reply(request, [50, 8]), GUARD_MS, 'ERROR to the caller');
    assert.deepEqual([toCaller[0], toCaller[4]], [8, 'wamp.error.feature_not_supported']);
  });

  test('passthru options the mode cannot carry: invalid_option; from a peer that did not announce it: ABORT', async () => {
    const client = await join('json', true);
    for (const options of [
      { ppt_serializer: 'json' },
      { ppt_scheme: '' },
      { ppt_scheme: 'custom' },
      { ppt_scheme: 7 },
      { ppt_scheme: 'x_ok', ppt_keyid: ['k'] },
    ]) {
      const request = client.id();
      client.send([16, request, { acknowledge: true, ...options }, 'com.ppt.bad', [binary('json')]]);
      const reply = await within(client.reply(request, [17, 8]), GUARD_MS, JSON.stringify(options));
      assert.deepEqual([reply[0], reply[4]], [8, 'wamp.error.invalid_option'], JSON.stringify(options));
    }
    const stranger = await join('json', false);
    stranger.send([16, stranger.id(), { acknowledge: true, ...PPT }, 'com.ppt.bad', [binary('json')]]);
    const abort = (await within(stranger.next(3), GUARD_MS, 'ABORT')) as WampMessage;
    assert.equal(abort[2], 'wamp.error.protocol_violation');
    assert.equal((await within(stranger.closed, GUARD_MS, 'close')).code, 1002);
  });

  for (const serialization of ['json', 'msgpack'] as const) {
    test(`wampy (${serialization}): publish and call in passthru mode, answered in it`, async () => {
      const open = async () => {
        const w = newWampy(
          server.url,
          serialization === 'msgpack' ? { serializer: new MsgpackSerializer() } : {},
        );
        wampys.push(w);
        await w.connect();
        return w;
      };
      const [a, b] = [await open(), await open()];
      const topic = `com.ppt.wampy.${serialization}`;
      const received = new Promise<{
        argsList?: unknown[];
        argsDict?: unknown;
        details: Record<string, unknown>;
      }>((resolve) => void b.subscribe(topic, (event) => resolve(event as never)));
      await b.subscribe(`${topic}.sync`, () => {});
      await a.publish(
        topic,
        { argsList: [1, 'two'], argsDict: { three: 3 } },
        { ppt_scheme: 'x_wampy', ppt_serializer: 'json' },
      );
      const event = await within(received, GUARD_MS, 'wampy event');
      assert.deepEqual(event.argsList, [1, 'two']);
      assert.deepEqual(event.argsDict, { three: 3 });
      assert.equal(event.details.ppt_scheme, 'x_wampy');
      await b.register(`${topic}.echo`, async ({ argsList, details }) => ({
        argsList: [...(argsList ?? []), (details as Record<string, unknown>).ppt_scheme],
        options: { ppt_scheme: 'x_back', ppt_serializer: 'json' },
      }));
      const answer = await a.call(
        `${topic}.echo`,
        { argsList: ['hi'] },
        { ppt_scheme: 'x_wampy', ppt_serializer: 'json' },
      );
      assert.deepEqual(answer.argsList, ['hi', 'x_wampy']);
      assert.equal((answer.details as Record<string, unknown>).ppt_scheme, 'x_back');
    });
  }
});
