/**
 * WAMP pub/sub fan-out (Herald only): N subscriber sessions on one topic, load clients in the worker
 * processes (wamp-client.ts), and one publisher session in the bench process sending acknowledged
 * publications at max rate, a window of them in flight, for each serializer. The same measure as the
 * Pusher `fanout` scenario's max rate: publishing pauses while the subscribers lag (`fanoutLag`), the
 * latency runs from the publisher writing the publication (its time is in the payload) to a
 * subscriber reading the EVENT, and every subscriber must get every sequence number, in order.
 */
import { connectOrThrow, fanoutLag, fanoutMetrics, measuredPhase, sleep, waitUntil } from './measure.js';
import type { ScenarioContext, ScenarioResult } from './scenarios.js';
import { nowUs } from './stats.js';
import { eachSerializer, type WampSession } from './wamp-session.js';
import { benchArgument, type WampCodec } from './wamp-wire.js';

const TOPIC = 'com.bench.fanout';

export async function wampFanout(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o, pool } = ctx;
  const results: ScenarioResult[] = [];
  for await (const { serializer, codec, session } of eachSerializer(ctx, o.wampSerializers, results)) {
    try {
      let connected = 0;
      for (const subs of o.wampFanoutSubs) {
        const wamp = { serializer, topic: TOPIC };
        await connectOrThrow(ctx, subs - connected, { path: '/ws', role: 'sub', wamp }, connected);
        connected = subs;
        await sleep(300);
        results.push(await fanoutVariant(ctx, session, codec, subs));
      }
    } finally {
      await pool.all('progress', { everyMs: 0 });
      await pool.all('closeAll');
    }
  }
  return results;
}

/** One max-rate run of `publisher` to `subs` subscribers already on TOPIC. */
async function fanoutVariant(
  ctx: ScenarioContext,
  publisher: WampSession,
  codec: WampCodec,
  subs: number,
): Promise<ScenarioResult> {
  const { o, pool } = ctx;
  await pool.all('resetCounts', { seqCheck: true });
  await pool.all('progress', { everyMs: 20 });
  const lag = fanoutLag(o, subs);
  const until = performance.now() + o.warmupMs + o.measureMs;
  const sent = { issued: 0, acknowledged: 0, failed: 0 };
  const failures: Record<string, number> = {};
  // `wampWindow` lanes, each with one acknowledged publication in flight; the sequence number is taken as
  // the publication is written, so the topic gets them in order.
  const lane = async () => {
    while (performance.now() < until) {
      if (sent.issued - pool.delivered() / subs >= lag) {
        await sleep(1);
        continue;
      }
      const seq = ++sent.issued;
      try {
        await publisher.publish(TOPIC, [benchArgument(seq, nowUs())]);
        sent.acknowledged++;
      } catch (err) {
        sent.failed++;
        const { message } = err as Error;
        failures[message] = (failures[message] ?? 0) + 1;
      }
    }
  };
  const lanes = Promise.all(Array.from({ length: o.wampWindow }, lane));
  const { s, w, counted } = await measuredPhase(ctx, () => sent.acknowledged);
  await lanes;
  await waitUntil(() => pool.delivered() >= sent.acknowledged * subs, o.drainMs);
  const check = await pool.check(sent.acknowledged);
  const notes: string[] = [];
  if (check.gaps || check.reorders) {
    notes.push(`sequence check: ${check.gaps} events skipped, ${check.reorders} out of order`);
  }
  return {
    variant: `${subs} subs, ${codec.protocol}, max rate, ${o.wampWindow} in flight`,
    metrics: fanoutMetrics(s, w, counted, check.incomplete),
    checks: {
      published: sent.acknowledged,
      failedRequests: sent.failed,
      failures,
      perSubscriber: { min: check.min, max: check.max, extra: check.extra },
      gaps: check.gaps,
      reorders: check.reorders,
      open: s.open,
      errors: s.errors,
    },
    notes,
  };
}
