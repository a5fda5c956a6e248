import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { RawWampClient, type Serialization } from '../helpers/wamp-client.js';
import { anyJson, fuzz, hasProtoKey } from './harness.js';

/**
 * `wamp.subscription.get_events` under random arguments and keywords, on JSON, MessagePack and CBOR: every
 * answer is a RESULT holding at most `limit` events, or ERROR `invalid_argument`,
 * `no_such_subscription` or `history_unavailable` (docs/wamp.md, "Event history"); well-formed
 * arguments for a kept subscription always get a RESULT; nothing is logged at error level.
 */

const CASE_MS = 5000;

const REFUSALS = new Set([
  'wamp.error.invalid_argument',
  'wamp.error.no_such_subscription',
  'wamp.error.history_unavailable',
]);

describe('fuzz: wamp.subscription.get_events', () => {
  let server: TestHerald;
  const clients = new Map<Serialization, RawWampClient>();
  let kept = 0;
  let plain = 0;
  const errors: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });

  before(async () => {
    server = await startHerald(
      {
        wamp: {
          realms: [
            {
              name: 'realm1',
              eventHistory: [{ uri: 'com.fuzz.', match: 'prefix', limit: 20 }],
            },
          ],
        },
      },
      { logger },
    );
    for (const serialization of ['json', 'msgpack', 'cbor'] as const) {
      clients.set(serialization, await RawWampClient.join(url(), { serialization }));
    }
    const json = clients.get('json')!;
    kept = await json.subscribe('com.fuzz.', { match: 'prefix' });
    plain = await json.subscribe('com.other');
    for (let i = 0; i < 25; i++) json.send([16, json.id(), {}, `com.fuzz.t${i % 3}`, [i], { i }]);
  });
  const url = () => `ws://127.0.0.1:${server.port}/ws`;
  after(async () => {
    for (const c of clients.values()) c.close();
    await server?.stop();
  });

  const ids = () =>
    fc.oneof(
      fc.constant(() => kept),
      fc.constant(() => plain),
      fc.constantFrom(1, 0, -1, 2 ** 53, 2 ** 53 + 2, 1.5, '1', null, true, [], {}).map((v) => () => v),
      fc.integer().map((v) => () => v),
    );
  const limits = () =>
    fc.oneof(
      fc.integer({ min: 1, max: 30 }),
      fc.constantFrom(0, -1, 1.5, 2 ** 53, 1e300, '2', null, true, [], {}),
      anyJson(),
    );

  test('random arguments get a RESULT of at most limit events or a documented ERROR', async () => {
    await fuzz(
      'get_events arguments',
      200,
      [
        fc.constantFrom<Serialization>('json', 'msgpack', 'cbor'),
        ids(),
        fc.option(limits(), { nil: undefined }),
        fc.array(anyJson(), { maxLength: 2 }),
        fc.option(fc.dictionary(fc.constantFrom('limit', 'reverse', 'topic', 'x'), limits()), {
          nil: undefined,
        }),
      ],
      async (serialization, id, limit, extra, kwargs) => {
        const client = clients.get(serialization)!;
        const args = [id(), ...(limit === undefined && extra.length === 0 ? [] : [limit ?? null]), ...extra];
        const request = client.id();
        client.send(
          kwargs === undefined
            ? [48, request, {}, 'wamp.subscription.get_events', args]
            : [48, request, {}, 'wamp.subscription.get_events', args, kwargs],
        );
        // MessagePack and CBOR maps never carry the key __proto__ (docs/wamp.md, "Serializers"): such
        // a message ends the session with a protocol violation, and the case goes on with a new one.
        if (serialization !== 'json' && hasProtoKey([args, kwargs])) {
          const abort = await within(client.next(3), CASE_MS, 'the ABORT');
          assert.equal(abort[2], 'wamp.error.protocol_violation');
          client.close();
          clients.set(serialization, await RawWampClient.join(url(), { serialization }));
          return;
        }
        const reply = await within(client.reply(request, [50, 8]), CASE_MS, 'the answer');
        const wellFormed =
          args[0] === kept &&
          extra.length === 0 &&
          (limit === undefined || (Number.isInteger(limit) && (limit as number) >= 1)) &&
          (kwargs === undefined || Object.keys(kwargs).length === 0);
        if (reply[0] === 8) {
          assert.ok(REFUSALS.has(reply[4] as string), `undocumented ERROR ${String(reply[4])}`);
          assert.ok(!wellFormed, `refused well-formed arguments ${JSON.stringify(args)}`);
        } else {
          const events = (reply[3] as unknown[][])[0]!;
          assert.ok(Array.isArray(events));
          const asked =
            typeof limit === 'number' ? limit : typeof kwargs?.limit === 'number' ? kwargs.limit : 10;
          assert.ok(events.length <= Math.min(asked, 20), `${events.length} events for limit ${asked}`);
        }
        assert.deepEqual(errors.splice(0), [], 'nothing logged at error level');
      },
    );
  });
});
