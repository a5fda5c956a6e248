/**
 * WAMP publications with many pattern subscriptions in the realm (Herald only): one session holds N
 * subscriptions that match nothing published (exact, prefix or wildcard), one session subscribes to
 * the published topic, and a publisher sends acknowledged publications with a window in flight.
 * Matching a publication must cost what the topic's depth costs, not what N costs: the prefix and
 * wildcard variants should publish within a fifth of the exact-only rate.
 */
import WebSocket from 'ws';
import type { ScenarioContext, ScenarioResult } from './scenarios.js';

const TOPIC = 'com.bench.topic';
const IN_FLIGHT = 200;

/** A subscription for the i-th pattern of `match` that never matches TOPIC. */
type Match = 'exact' | 'prefix' | 'wildcard';

/** A WAMP message, as the JSON serializer carries it. */
type WampMessage = unknown[];

const PATTERNS: Record<Match, (i: number) => string> = {
  exact: (i) => `com.bench.other${i}`,
  prefix: (i) => `com.bench.p${i}.`,
  wildcard: (i) => `com..t${i}`,
};

class WampSession {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, { resolve: (m: WampMessage) => void; reject: (err: Error) => void }>();
  #nextRequest = 1;
  events = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
  }

  static async open(host: string, port: number): Promise<WampSession> {
    const s = new WampSession(new WebSocket(`ws://${host}:${port}/ws`, ['wamp.2.json']));
    await new Promise((resolve, reject) => {
      s.#ws.once('open', resolve);
      s.#ws.once('error', reject);
    });
    const welcome = new Promise<void>((resolve, reject) => {
      s.#ws.once('message', (data: WebSocket.RawData) => {
        const m = JSON.parse(data.toString()) as WampMessage;
        if (m[0] === 2) resolve();
        else reject(new Error(`no WELCOME: ${data.toString()}`));
      });
    });
    s.#ws.send(JSON.stringify([1, 'realm1', { roles: { publisher: {}, subscriber: {} } }]));
    await welcome;
    s.#ws.on('message', (data: WebSocket.RawData) =>
      s.#onMessage(JSON.parse(data.toString()) as WampMessage),
    );
    return s;
  }

  #onMessage(m: WampMessage): void {
    if (m[0] === 36) {
      this.events++;
      return;
    }
    const request = (m[0] === 8 ? m[2] : m[1]) as number;
    const pending = this.#pending.get(request);
    this.#pending.delete(request);
    if (m[0] === 8) pending?.reject(new Error(`WAMP ERROR ${String(m[4])}`));
    else pending?.resolve(m);
  }

  #request(message: WampMessage): Promise<WampMessage> {
    const id = this.#nextRequest++;
    message[1] = id;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify(message));
    });
  }

  subscribe(topic: string, match: Match): Promise<WampMessage> {
    return this.#request([32, 0, match === 'exact' ? {} : { match }, topic]);
  }

  publish(topic: string, n: number): Promise<WampMessage> {
    return this.#request([16, 0, { acknowledge: true }, topic, [n]]);
  }

  close(): void {
    this.#ws.close();
  }
}

/** Runs `op(0)`, `op(1)`, … with `window` in flight while `more(i)` holds. */
async function pipelined(
  window: number,
  more: (i: number) => boolean,
  op: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (more(next)) await op(next++);
  };
  await Promise.all(Array.from({ length: window }, lane));
}

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
          await publisher.publish(TOPIC, i);
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
