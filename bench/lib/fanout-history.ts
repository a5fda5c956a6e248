/**
 * Fan-out with the channel's history on (Herald only): the max-rate fan-out of the `fanout` scenario
 * (`events`, N subscribers on one channel) on a node whose app keeps a stream of the channel
 * (docs/recovery.md), against the same on a node without history. Each event is then appended to the
 * stream before it is published, and counted per subscriber. What history costs the delivery is the
 * ratio of the two rates.
 */

import { meanOf } from './fanout-console.js';
import { connectOrThrow, sleep } from './measure.js';
import { fanoutVariant, type ScenarioContext, type ScenarioResult } from './scenarios.js';
import { APP, type ServerProcess } from './servers.js';

/** The bench's app as servers.ts configures it, with a stream for the fan-out's channel. */
const STREAMED_APPS = [
  {
    ...APP,
    clientEvents: true,
    maxClientEventsPerSecond: 1_000_000,
    maxPresenceMembers: 100_000,
    history: { streams: [{ channels: ['fanout'], maxEvents: 10_000 }] },
  },
];

/** `o.consoleSubs` subscribers, events at max rate, on a node without and one with history. */
export async function fanoutHistory(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o, pool } = ctx;
  const plain = await ctx.startHerald({ label: 'no history' });
  const streamed = await ctx.startHerald({ settings: { apps: STREAMED_APPS }, label: 'history on' });
  const nodes: Record<'without' | 'with', ServerProcess> = { without: plain, with: streamed };
  // A-B-B-A within the round, as fanout-console does, the first variant alternating by round.
  const first = ctx.round % 2 === 1 ? 'without' : 'with';
  const second = first === 'with' ? 'without' : 'with';
  const runs: Record<'with' | 'without', ScenarioResult[]> = { with: [], without: [] };
  try {
    for (const variant of [first, second, second, first] as const) {
      const node = nodes[variant];
      const publisher = ctx.publisherFor(node);
      try {
        const sub: ScenarioContext = { ...ctx, server: node, publisher };
        await connectOrThrow(sub, o.consoleSubs, { channel: 'fanout' });
        await sleep(300);
        runs[variant].push(await fanoutVariant(sub, o.consoleSubs, 'events', 'max'));
      } finally {
        publisher.close();
        await pool.all('closeAll');
      }
    }
  } finally {
    await plain.stop();
    await streamed.stop();
  }
  const results = { without: meanOf(runs.without, 'no history'), with: meanOf(runs.with, 'history on') };
  results.with.metrics.history_ratio =
    results.with.metrics.delivered_per_s! / results.without.metrics.delivered_per_s!;
  return [results[first], results[second]];
}
