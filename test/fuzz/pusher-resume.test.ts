import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { type PusherFrame, RawClient, within } from '../helpers/raw-client.js';
import { range } from '../helpers/recovery.js';
import { until } from '../helpers/wait.js';
import { anyJson, FUZZ_SEED, fuzz, Observer } from './harness.js';

/**
 * `herald:resume` (docs/recovery.md) with arbitrary JSON: a connection gets some events on a stream
 * channel and is left behind (closed, or still open, when it is sent what is published after too); a
 * new one sends a generated `herald:resume`
 * (a real token, an unknown one, or any JSON at all; counts right, past what was sent, or of any type),
 * maybe a well-formed one after it, and subscribes again. Each case checks:
 *
 * - every frame is a documented one, and a refused `herald:resume` gets `pusher:error` with no code;
 * - the channel gets `herald:resumed` exactly when the accepted resume counted it; it is true exactly
 *   when the token was the old connection's and the count at most what it was sent, and then the
 *   replay is the events after those counted, once each and in order; false replays nothing;
 * - the next event arrives once; the server logged no error; the `Observer` invariants hold.
 */

let server: TestHerald;
let observer: Observer;
const errorsLogged: string[] = [];
let cases = 0;
let recovered = 0;

before(async () => {
  const logger = pino({ level: 'error' }, { write: (line: string) => errorsLogged.push(line) });
  server = await startHerald(
    {
      apps: [
        {
          ...APP,
          maxBatchSize: 100,
          history: { streams: [{ channels: ['orders-*'], maxEvents: 50 }], resumeTtlSeconds: 60 },
        },
      ],
    },
    { logger },
  );
  observer = await Observer.connect(server);
});

after(async () => {
  observer?.close();
  await server?.stop();
});

const quote = (s: string) => JSON.stringify(s);

type Token = 'real' | 'unknown' | { text: string };
type Count = { sent: number } | { past: number } | { text: string };

/** The generated parts of one `herald:resume`; `text` makes its frame for the old connection's token. */
interface ResumeCase {
  token: Token;
  /** The count of the channel, if it is named. */
  count: Count | undefined;
  /** Other entries of `received`, as JSON texts. */
  others: [string, string][];
  /** Any other data instead of `{token, received}`. */
  whole: string | undefined;
  asString: boolean;
}

const token: fc.Arbitrary<Token> = fc.oneof(
  { weight: 4, arbitrary: fc.constant('real' as const) },
  { weight: 1, arbitrary: fc.constant('unknown' as const) },
  { weight: 2, arbitrary: anyJson().map((v) => ({ text: JSON.stringify(v) ?? 'null' })) },
);

const count: fc.Arbitrary<Count> = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: 8 }).map((sent) => ({ sent })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((past) => ({ past })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom('-1', '1.5', '"2"', 'null', '1e400', '9007199254740993', '[]', '{}', 'true'),
        anyJson().map((v) => JSON.stringify(v) ?? 'null'),
      )
      .map((text) => ({ text })),
  },
);

const resumeCase: fc.Arbitrary<ResumeCase> = fc.record({
  token,
  count: fc.option(count, { nil: undefined }),
  others: fc.array(
    fc.tuple(
      fc.oneof(fc.constantFrom('__proto__', 'constructor', 'orders-other', ''), fc.string({ maxLength: 20 })),
      fc.oneof(
        fc.nat({ max: 5 }).map(String),
        anyJson().map((v) => JSON.stringify(v) ?? 'null'),
      ),
    ),
    { maxLength: 3 },
  ),
  whole: fc.option(
    anyJson().map((v) => JSON.stringify(v) ?? 'null'),
    { nil: undefined, freq: 6 },
  ),
  asString: fc.boolean(),
});

/** The `herald:resume` frame of `c` for `channel`, whose old connection had `realToken` and got `sent` events. */
function resumeText(c: ResumeCase, channel: string, realToken: string, sent: number): string {
  let data: string;
  if (c.whole !== undefined) {
    data = c.whole;
  } else {
    const tokenText =
      c.token === 'real' ? quote(realToken) : c.token === 'unknown' ? quote('unknown-token') : c.token.text;
    const entries = c.others.map(([k, v]) => `${quote(k)}:${v}`);
    if (c.count !== undefined) {
      const value =
        'sent' in c.count
          ? String(Math.min(c.count.sent, sent))
          : 'past' in c.count
            ? String(sent + c.count.past)
            : c.count.text;
      entries.push(`${quote(channel)}:${value}`);
    }
    data = `{"token":${tokenText},"received":{${entries.join(',')}}}`;
  }
  return `{"event":"herald:resume","data":${c.asString ? quote(data) : data}}`;
}

/** The count an accepted resume gave the channel; undefined when it named none. */
function countOf(c: Count | undefined, sent: number): number | undefined {
  if (c === undefined) return undefined;
  if ('sent' in c) return Math.min(c.sent, sent);
  if ('past' in c) return sent + c.past;
  return JSON.parse(c.text) as number;
}

const WELL_FORMED: ResumeCase = {
  token: 'real',
  count: { sent: 0 },
  others: [],
  whole: undefined,
  asString: false,
};

/** Data of a channel event, a server event's data parsed, as pusher-js would. */
const dataOf = (f: PusherFrame) => (typeof f.data === 'string' ? (JSON.parse(f.data) as unknown) : f.data);

function assertDocumented(frame: PusherFrame): void {
  if (frame.event === 'pusher:error') {
    assert.deepEqual(Object.keys(frame.data as object).sort(), ['code', 'message']);
    assert.equal((frame.data as { code: unknown }).code, null, 'a refused herald:resume has no code');
  } else if (frame.event === 'herald:resumed') {
    const data = dataOf(frame) as { recovered: unknown; epoch: unknown };
    assert.equal(typeof frame.channel, 'string');
    assert.equal(typeof data.recovered, 'boolean');
    assert.ok(data.epoch === null || typeof data.epoch === 'string');
  } else {
    assert.ok(
      [
        'pusher:connection_established',
        'herald:session',
        'pusher_internal:subscription_succeeded',
        'order',
      ].includes(frame.event),
      `undocumented ${JSON.stringify(frame).slice(0, 200)}`,
    );
  }
}

/** Subscribes `client` to a channel outside any stream and waits for the answer: the work queued before it is done. */
async function sync(client: RawClient, name: string): Promise<void> {
  const answer = await within(client.subscribe(name), 5000, `sync ${name}`);
  assert.equal(answer.event, 'pusher_internal:subscription_succeeded');
}

test('herald:resume with generated tokens, counts and any JSON: documented answers, exact replays', async () => {
  const sdk = server.sdk();
  const app = server.herald.config.apps[0]!;
  await fuzz(
    'herald:resume',
    150,
    [fc.nat({ max: 6 }), fc.nat({ max: 4 }), fc.boolean(), resumeCase, fc.boolean()],
    async (sent, missed, closeFirst, first, thenWellFormed) => {
      const n = ++cases;
      const channel = `orders-${n}`;
      const publish = async (from: number, to: number) => {
        if (to < from) return;
        await sdk.triggerBatch(range(from, to).map((i) => ({ channel, name: 'order', data: { n: i } })));
      };
      // The old connection: its token, then `sent` events.
      const { client: old } = await within(RawClient.connect(server.wsUrl()), 5000, 'old connection');
      const session = dataOf(await within(old.next('herald:session'), 5000, 'herald:session')) as {
        resume_token: string;
      };
      await within(old.subscribe(channel), 5000, 'old subscription');
      await publish(1, sent);
      for (let i = 1; i <= sent; i++) await within(old.next('order'), 5000, `old event ${i}`);
      if (closeFirst) {
        const open = server.herald.pusher.connectionCount(app);
        old.close();
        await until(() => server.herald.pusher.connectionCount(app) < open, 'the old connection closed');
      }
      await publish(sent + 1, sent + missed);
      // What the server sent the old connection: the missed events too while it is still open.
      const delivered = closeFirst ? sent : sent + missed;

      const { client } = await within(RawClient.connect(server.wsUrl()), 5000, 'new connection');
      const log: PusherFrame[] = [];
      client.ws.on('message', (data) => log.push(JSON.parse(data.toString()) as PusherFrame));
      try {
        const frames = thenWellFormed ? [first, WELL_FORMED] : [first];
        let accepted: ResumeCase | undefined;
        for (const [i, c] of frames.entries()) {
          const before = log.length;
          client.send(resumeText(c, channel, session.resume_token, delivered));
          await sync(client, `sync-${n}-${i}`);
          if (!log.slice(before).some((f) => f.event === 'pusher:error')) accepted ??= c;
        }
        await within(client.subscribe(channel), 5000, 'subscription again');
        await sync(client, `sync-${n}-end`);
        const on = log.filter((f) => f.channel === channel);
        const resumed = on.filter((f) => f.event === 'herald:resumed');
        const count = accepted?.whole === undefined ? countOf(accepted?.count, delivered) : undefined;
        if (count === undefined) {
          assert.deepEqual(resumed, [], 'no herald:resumed for a channel no accepted resume counted');
        } else {
          assert.equal(resumed.length, 1, 'one herald:resumed');
          const replay = on
            .slice(0, on.indexOf(resumed[0]!))
            .filter((f) => f.event === 'order')
            .map((f) => (dataOf(f) as { n: number }).n);
          const ok = (dataOf(resumed[0]!) as { recovered: boolean }).recovered;
          assert.equal(
            ok,
            accepted!.token === 'real' && count <= delivered,
            `recovered: ${JSON.stringify(accepted)}`,
          );
          if (ok) {
            recovered++;
            assert.deepEqual(replay, range(count + 1, sent + missed), 'the events after those counted');
          } else {
            assert.deepEqual(replay, [], 'nothing replayed without a recovery');
          }
        }
        // Live from then on: the next event once.
        await publish(sent + missed + 1, sent + missed + 1);
        await within(
          client.next((f) => f.event === 'order' && (dataOf(f) as { n: number }).n === sent + missed + 1),
          5000,
          'the next event',
        );
        const live = log.filter((f) => f.channel === channel && f.event === 'order').map((f) => dataOf(f));
        assert.equal(new Set(live.map((d) => JSON.stringify(d))).size, live.length, 'no event twice');
        for (const frame of log) assertDocumented(frame);
      } finally {
        client.close();
        old.close();
      }
      assert.deepEqual(errorsLogged.splice(0), [], 'the server logged no error');
      await observer.check();
    },
  );
  console.log(`# fuzz herald:resume: ${cases} cases, ${recovered} recovered, seed ${FUZZ_SEED}`);
  assert.ok(recovered > 0, 'some cases recovered');
});
