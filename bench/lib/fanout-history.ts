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

/**
 * `o.consoleSubs` subscribers, events at max rate and at the fixed rate of the `fanout` scenario, on a
 * node without and one with history. At max rate the ratio of the rates is the cost; at the fixed
 * rate, where both keep up, the ratio of the CPU per message is, and it moves far less with the
 * machine's other work than a max rate does.
 */
export async function fanoutHistory(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o, pool } = ctx;
  const plain = await ctx.startHerald({ label: 'no history' });
  const streamed = await ctx.startHerald({ settings: { apps: STREAMED_APPS }, label: 'history on' });
  const nodes: Record<'without' | 'with', ServerProcess> = { without: plain, with: streamed };
  // A-B-B-A within the round, as fanout-console does, the first variant alternating by round.
  const first = ctx.round % 2 === 1 ? 'without' : 'with';
  const second = first === 'with' ? 'without' : 'with';
  const runs = {
    max: { with: [] as ScenarioResult[], without: [] as ScenarioResult[] },
    fixed: { with: [] as ScenarioResult[], without: [] as ScenarioResult[] },
  };
  try {
    for (const variant of [first, second, second, first] as const) {
      const node = nodes[variant];
      const publisher = ctx.publisherFor(node);
      try {
        const sub: ScenarioContext = { ...ctx, server: node, publisher };
        await connectOrThrow(sub, o.consoleSubs, { channel: 'fanout' });
        await sleep(300);
        for (const mode of ['max', 'fixed'] as const)
          runs[mode][variant].push(await fanoutVariant(sub, o.consoleSubs, 'events', mode));
      } finally {
        publisher.close();
        await pool.all('closeAll');
      }
    }
  } finally {
    await plain.stop();
    await streamed.stop();
  }
  const results: ScenarioResult[] = [];
  for (const mode of ['max', 'fixed'] as const) {
    const without = meanOf(runs[mode].without, 'no history');
    const withHistory = meanOf(runs[mode].with, 'history on');
    if (mode === 'max')
      withHistory.metrics.history_ratio =
        withHistory.metrics.delivered_per_s! / without.metrics.delivered_per_s!;
    else
      withHistory.metrics.history_cpu_ratio =
        withHistory.metrics.cpu_us_per_msg! / without.metrics.cpu_us_per_msg!;
    results.push(...(first === 'with' ? [withHistory, without] : [without, withHistory]));
  }
  return results;
}
