import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { PASSTHRU_ROLES, RawWampClient, type Serialization } from '../helpers/wamp-client.js';
import { anyJson, fuzz, hasProtoKey } from './harness.js';

/**
 * Payload passthru options under random values, on PUBLISH and CALL, JSON, MessagePack and CBOR (docs/wamp.md,
 * "Payload passthru mode"): options the mode can carry are forwarded exactly into EVENT and INVOCATION
 * Details, any other gets ERROR `wamp.error.invalid_option`; a peer that did not announce the mode is
 * aborted with `wamp.error.protocol_violation`, as is a MessagePack or CBOR session whose options hold a
 * `__proto__` key (docs/wamp.md, "CBOR"); nothing is logged at error level.
 */

const CASE_MS = 5000;
const KEYS = ['ppt_scheme', 'ppt_serializer', 'ppt_cipher', 'ppt_keyid'] as const;
const TOPIC = 'com.fuzz.ppt';
const PROCEDURE = 'com.fuzz.ppt.proc';

/** What the router accepts, said independently of its code: every present value a non-empty string, a known scheme. */
function acceptable(options: Record<string, unknown>): boolean {
  const present = KEYS.filter((k) => options[k] !== undefined && options[k] !== null);
  if (present.some((k) => typeof options[k] !== 'string' || options[k] === '')) return false;
  const scheme = options.ppt_scheme;
  if (typeof scheme !== 'string') return false;
  return scheme === 'mqtt' || scheme === 'wamp' || /^(wamp\.|x_)\S+$/.test(scheme);
}

const values = () =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom('mqtt', 'wamp', 'wamp.eth', 'x_my', 'x_', 'xmy', 'json', 'cbor', ''),
    },
    { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 2, arbitrary: anyJson() },
    { weight: 1, arbitrary: fc.constant(null) },
  );

describe('fuzz: payload passthru options', () => {
  let server: TestHerald;
  let url: string;
  const clients = new Map<Serialization, RawWampClient>();
  let subscriber: RawWampClient;
  let callee: RawWampClient;
  const errors: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });

  before(async () => {
    server = await startHerald({}, { logger });
    url = `ws://127.0.0.1:${server.port}/ws`;
    const details = { roles: PASSTHRU_ROLES };
    for (const serialization of ['json', 'msgpack', 'cbor'] as const) {
      clients.set(serialization, await RawWampClient.join(url, { serialization, details }));
    }
    subscriber = await RawWampClient.join(url, { serialization: 'msgpack', details });
    await subscriber.subscribe(TOPIC);
    callee = await RawWampClient.join(url, { details });
    await callee.register(PROCEDURE);
  });
  after(async () => {
    for (const c of [...clients.values(), subscriber, callee]) c?.close();
    await server?.stop();
  });

  test('random ppt_* options on PUBLISH and CALL are forwarded exactly or refused with invalid_option', async () => {
    await fuzz(
      'passthru options',
      200,
      [
        fc.constantFrom<Serialization>('json', 'msgpack', 'cbor'),
        fc.constantFrom('publish', 'call'),
        fc.record(
          Object.fromEntries(KEYS.map((k) => [k, values()])) as Record<
            (typeof KEYS)[number],
            fc.Arbitrary<unknown>
          >,
          {
            requiredKeys: [],
          },
        ),
      ],
      async (serialization, kind, options) => {
        const client = clients.get(serialization)!;
        const request = client.id();
        const payload = [new Uint8Array([1, 2, 3])].map((b) =>
          serialization === 'json' ? `\0${Buffer.from(b).toString('base64')}` : b,
        );
        const forwarded = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== null));
        const ok = acceptable(options) || Object.keys(forwarded).length === 0;
        if (serialization !== 'json' && hasProtoKey(options)) {
          // The binary serializers refuse the key outright: the session ends, and the case goes on a new one.
          client.send(
            kind === 'publish'
              ? [16, request, { acknowledge: true, ...options }, TOPIC, payload]
              : [48, request, options, PROCEDURE, payload],
          );
          const abort = await within(client.next(3), CASE_MS, 'ABORT');
          assert.equal(abort[2], 'wamp.error.protocol_violation');
          client.close();
          clients.set(
            serialization,
            await RawWampClient.join(url, { serialization, details: { roles: PASSTHRU_ROLES } }),
          );
          return assert.deepEqual(errors.splice(0), [], 'nothing logged at error level');
        }
        if (kind === 'publish') {
          client.send([16, request, { acknowledge: true, ...options }, TOPIC, payload]);
          const reply = await within(client.reply(request, [17, 8]), CASE_MS, 'PUBLISHED or ERROR');
          if (!ok) return assert.deepEqual([reply[0], reply[4]], [8, 'wamp.error.invalid_option']);
          assert.equal(reply[0], 17, JSON.stringify(reply));
          const event = await within(
            subscriber.next((m) => m[0] === 36 && m[2] === reply[2]),
            CASE_MS,
            'EVENT',
          );
          assert.deepEqual(event[3], forwarded);
        } else {
          client.send([48, request, options, PROCEDURE, payload]);
          if (!ok) {
            const reply = await within(client.reply(request, [50, 8]), CASE_MS, 'ERROR');
            return assert.deepEqual([reply[0], reply[4]], [8, 'wamp.error.invalid_option']);
          }
          const invocation = await within(callee.next(68), CASE_MS, 'INVOCATION');
          assert.deepEqual(invocation[3], forwarded);
          callee.send([70, invocation[1], forwarded, invocation[4] as unknown[]]);
          const result = await within(client.reply(request, [50, 8]), CASE_MS, 'RESULT');
          assert.deepEqual([result[0], result[2]], [50, forwarded]);
        }
        assert.deepEqual(errors.splice(0), [], 'nothing logged at error level');
      },
    );
  });

  test('a peer that did not announce the mode is aborted for any ppt_scheme', async () => {
    await fuzz(
      'passthru without the feature',
      30,
      [fc.constantFrom('publish', 'call'), fc.string({ minLength: 1 })],
      async (kind, scheme) => {
        const client = await RawWampClient.join(url);
        try {
          const options = { acknowledge: true, ppt_scheme: scheme };
          client.send(
            kind === 'publish'
              ? [16, client.id(), options, TOPIC, ['x']]
              : [48, client.id(), options, PROCEDURE, ['x']],
          );
          const abort = await within(client.next(3), CASE_MS, 'ABORT');
          assert.equal(abort[2], 'wamp.error.protocol_violation');
        } finally {
          client.close();
        }
        assert.deepEqual(errors.splice(0), [], 'nothing logged at error level');
      },
    );
  });
});
