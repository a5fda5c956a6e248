import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type PusherServer from 'pusher';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { range } from '../helpers/recovery.js';
import { FUZZ_SEED, fuzz, Observer } from './harness.js';

/**
 * `GET /apps/{id}/channels/{name}/events` (docs/recovery.md) with generated `since_offset`, `epoch`
 * and `limit`, valid or not, on channels whose streams hold a known number of events (some more than
 * they keep): a 400 with the reason for what is not a parameter, and otherwise a page that says what
 * the stream has: the events after `since_offset` in order with no gap when `complete`, from the
 * oldest kept when not, never more than `limit`, `complete` false exactly when something after
 * `since_offset` was dropped or the epoch is another. (The route's other answers are fuzzed with every
 * route in http-api.test.ts.)
 */

/** Events each channel was published, and what its stream keeps. */
const CHANNELS = [
  { name: 'orders-empty', published: 0 },
  { name: 'orders-few', published: 7 },
  { name: 'orders-many', published: 130 },
];
const MAX_EVENTS = 100;

let server: TestHerald;
let sdk: PusherServer;
let observer: Observer;
const epochs = new Map<string, string | null>();

before(async () => {
  server = await startHerald({
    apps: [
      {
        ...APP,
        maxBatchSize: 100,
        history: { streams: [{ channels: ['orders-*'], maxEvents: MAX_EVENTS }] },
      },
    ],
  });
  sdk = server.sdk();
  observer = await Observer.connect(server);
  for (const { name, published } of CHANNELS) {
    for (let first = 1; first <= published; first += 100) {
      const batch = range(first, Math.min(published, first + 99)).map((n) => ({
        channel: name,
        name: 'order',
        data: String(n),
      }));
      await sdk.triggerBatch(batch);
    }
    epochs.set(name, (await get(name, {})).body.epoch as string | null);
  }
});

after(async () => {
  observer?.close();
  await server?.stop();
});

async function get(channel: string, params: Record<string, string>) {
  const response = await sdk.get({ path: `/channels/${channel}/events`, params }).catch((err: unknown) => {
    const { status, body } = err as { status: number; body: string };
    return { status, text: async () => body };
  });
  return { status: response.status, body: JSON.parse(await response.text()) as Record<string, unknown> };
}

type Param = { valid: number | string } | { invalid: string } | undefined;

/**
 * Text that goes in a query string as it is: the SDK signs and sends parameters without encoding
 * them (as the Pusher signing scheme has it), so `&`, `#`, `%`, `+` and spaces would change the request.
 */
const queryText = (maxLength: number) =>
  fc.stringMatching(new RegExp(`^[-A-Za-z0-9._~!$'()*,;:@/?]{0,${maxLength}}$`));

const since: fc.Arbitrary<Param> = fc.oneof(
  { weight: 5, arbitrary: fc.nat({ max: 140 }).map((valid) => ({ valid })) },
  { weight: 1, arbitrary: fc.constant({ valid: Number.MAX_SAFE_INTEGER }) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(fc.constantFrom('-1', '1.5', '', '1e2', '9007199254740992', '03.', '0x1'), queryText(8))
      .filter((s) => !/^\d{1,16}$/.test(s) || !Number.isSafeInteger(Number(s)))
      .map((invalid) => ({ invalid })),
  },
  { weight: 2, arbitrary: fc.constant(undefined) },
);
const limit: fc.Arbitrary<Param> = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 1000 }).map((valid) => ({ valid })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(fc.constantFrom('0', '1001', '-5', '', 'ten', '10.0'), queryText(6))
      .filter((s) => !/^\d{1,4}$/.test(s) || Number(s) < 1 || Number(s) > 1000)
      .map((invalid) => ({ invalid })),
  },
  { weight: 2, arbitrary: fc.constant(undefined) },
);
const epoch = fc.oneof(
  { weight: 4, arbitrary: fc.constant('current' as const) },
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/).map((valid) => ({ valid })) },
  {
    weight: 1,
    arbitrary: queryText(80)
      .filter((s) => !/^[A-Za-z0-9_-]{1,64}$/.test(s))
      .map((invalid) => ({ invalid })),
  },
);

const text = (p: Param) => (p === undefined ? undefined : 'valid' in p ? String(p.valid) : p.invalid);

let answered = 0;

test('generated since_offset, epoch and limit: a 400 or the page the stream holds', async () => {
  await fuzz(
    'stream events',
    300,
    [fc.constantFrom(...CHANNELS), since, epoch, limit],
    async (channel, sinceParam, epochParam, limitParam) => {
      const current = epochs.get(channel.name) ?? null;
      const epochText =
        epochParam === 'current'
          ? (current ?? undefined)
          : epochParam === undefined
            ? undefined
            : text(epochParam);
      const params: Record<string, string> = {};
      for (const [key, value] of [
        ['since_offset', text(sinceParam)],
        ['epoch', epochText],
        ['limit', text(limitParam)],
      ] as const) {
        if (value !== undefined) params[key] = value;
      }
      const answer = await within(get(channel.name, params), 5000, 'the answer');
      const invalid = [sinceParam, epochParam, limitParam].find(
        (p) => p !== undefined && p !== 'current' && 'invalid' in p,
      );
      if (invalid) {
        assert.equal(answer.status, 400, JSON.stringify(params));
        assert.equal(typeof answer.body.error, 'string');
        return;
      }
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      answered++;
      const after = sinceParam === undefined ? 0 : Number((sinceParam as { valid: number }).valid);
      const max = limitParam === undefined ? 100 : Number((limitParam as { valid: number }).valid);
      const body = answer.body as {
        epoch: string | null;
        newest_offset: number;
        complete: boolean;
        events: { offset: number; data: string }[];
      };
      assert.equal(body.epoch, current);
      assert.equal(body.newest_offset, channel.published);
      const oldest = Math.max(1, channel.published - MAX_EVENTS + 1);
      const sameEpoch = epochText === undefined || epochText === current;
      const complete =
        channel.published === 0
          ? after === 0 && epochText === undefined
          : sameEpoch && after <= channel.published && after >= oldest - 1;
      assert.equal(body.complete, complete, JSON.stringify(params));
      const from = complete ? after + 1 : oldest;
      const expected =
        channel.published === 0 ? [] : range(from, Math.min(channel.published, from + max - 1));
      assert.deepEqual(
        body.events.map((e) => e.offset),
        expected,
      );
      for (const e of body.events) assert.equal(e.data, String(e.offset), 'each event as published');
    },
  );
  console.log(`# fuzz stream events: ${answered} pages, seed ${FUZZ_SEED}`);
  assert.ok(answered > 0);
  await observer.check();
});
