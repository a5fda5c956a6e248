/**
 * WAMP publications with many pattern subscriptions in the realm (Herald only): one session holds N
 * subscriptions that match nothing published (exact, prefix or wildcard), one session subscribes to
 * the published topic, and a publisher sends acknowledged publications with a window in flight.
 * Matching a publication must cost what the topic's depth costs, not what N costs: the prefix and
 * wildcard variants should publish within a fifth of the exact-only rate.
 */
import type { ScenarioContext, ScenarioResult } from './scenarios.js';
import { pipelined, WampSession } from './wamp-session.js';

const TOPIC = 'com.bench.topic';
const IN_FLIGHT = 200;

/** A subscription for the i-th pattern of `match` that never matches TOPIC. */
type Match = 'exact' | 'prefix' | 'wildcard';

const PATTERNS: Record<Match, (i: number) => string> = {
  exact: (i) => `com.bench.other${i}`,
  prefix: (i) => `com.bench.p${i}.`,
  wildcard: (i) => `com..t${i}`,
};

export async function wampPatterns(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o, server } = ctx;
  const n = o.wampPatterns;
  const results: (ScenarioResult & { checks: Record<string, unknown> })[] = [];
  for (const match of ['exact', 'prefix', 'wildcard'] as const) {
    const holder = await WampSession.open(server.host, server.port);
    const subscriber = await WampSession.open(server.host, server.port);
    const publisher = await WampSession.open(server.host, server.port);
    try {
      const s0 = performance.now();
      const cpuS0 = server.stats().cpuUs;
      await pipelined(
        IN_FLIGHT,
        (i) => i < n,
        (i) => holder.subscribe(PATTERNS[match](i), match),
      );
      const subSecs = (performance.now() - s0) / 1000;
      const subCpu = server.stats().cpuUs - cpuS0;
      await subscriber.subscribe(TOPIC, 'exact');

      let published = 0;
      let stop = false;
      const lanes = pipelined(
        IN_FLIGHT,
        () => !stop,
        async (i) => {
          await publisher.publish(TOPIC, [i]);
          published++;
        },
      );
      await new Promise((r) => setTimeout(r, o.warmupMs));
      const p0 = published;
      const c0 = server.stats().cpuUs;
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, o.measureMs));
      const count = published - p0;
      const secs = (performance.now() - t0) / 1000;
      const cpuUs = server.stats().cpuUs - c0;
      stop = true;
      await lanes;
      results.push({
        variant: `${n} ${match} subscriptions in the realm`,
        metrics: {
          subs_per_s: n / subSecs,
          cpu_us_per_sub: subCpu / n,
          published_per_s: count / secs,
          cpu_us_per_msg: cpuUs / count,
        },
        checks: { eventsReceived: subscriber.events, published },
      });
    } finally {
      holder.close();
      subscriber.close();
      publisher.close();
    }
  }
  const exact = results[0]!.metrics.published_per_s!;
  for (const r of results.slice(1)) r.checks.rateVsExact = r.metrics.published_per_s! / exact;
  return results;
}
