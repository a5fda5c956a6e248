/**
 * Fan-out with the dashboard's debug console open (Herald only): the max-rate fan-out of the `fanout`
 * scenario (`events`, N subscribers on one channel), once without anyone watching the app and once
 * with its console (`GET /dashboard/api/apps/{id}/console`, Server-Sent Events) read continuously by
 * this process, as a browser would. What the console costs the delivery is the ratio of the two rates;
 * the console itself gets at most the feed's rate cap and a `dropped` marker for what did not fit.
 */
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../../src/dashboard/auth.js';
import { connectOrThrow, sleep } from './measure.js';
import { fanoutVariant, type ScenarioContext, type ScenarioResult } from './scenarios.js';
import { APP, type ServerProcess } from './servers.js';

/** The one dashboard user the bench signs in as. */
const USER = 'bench';

/** What the console stream has brought so far. */
interface ConsoleCount {
  /** `data:` lines that were events, not markers. */
  events: number;
  /** `dropped` markers, and the events they say were dropped. */
  markers: number;
  dropped: number;
}

/** An open console stream, read until `close`. */
interface OpenConsole {
  count: ConsoleCount;
  /** Stops reading and closes the stream; the count then stays as it was. */
  close(): Promise<void>;
}

/** Signs in to the dashboard of `server` and returns the session cookie (`name=value`). */
async function signIn(server: ServerProcess, password: string): Promise<string> {
  const res = await fetch(`http://${server.host}:${server.port}/dashboard/api/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: USER, password }),
  });
  await res.arrayBuffer();
  const cookie = res.headers.getSetCookie()[0]?.split(';')[0];
  if (res.status !== 204 || !cookie) throw new Error(`dashboard sign-in: status ${res.status}, no cookie`);
  return cookie;
}

/**
 * Opens the console of the bench app and reads it on this process's event loop, counting its lines;
 * resolves once the stream's first line (`: watching`) has come, so that the app is being watched.
 */
async function openConsole(server: ServerProcess, cookie: string): Promise<OpenConsole> {
  const abort = new AbortController();
  const res = await fetch(`http://${server.host}:${server.port}/dashboard/api/apps/${APP.id}/console`, {
    headers: { Cookie: cookie, Accept: 'text/event-stream' },
    signal: abort.signal,
  });
  if (res.status !== 200 || !res.body) throw new Error(`dashboard console: status ${res.status}`);
  const count: ConsoleCount = { events: 0, markers: 0, dropped: 0 };
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let watching: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    watching = resolve;
  });
  const reading = (async () => {
    let rest = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const lines = (rest + value).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          if (line.startsWith(': watching')) watching();
          if (!line.startsWith('data:')) continue;
          // Markers are rare and short: only they are parsed, events are only counted.
          if (line.includes('"type":"dropped"')) {
            const marker = JSON.parse(line.slice(5)) as { type?: string; count?: number };
            if (marker.type === 'dropped') {
              count.markers++;
              count.dropped += marker.count ?? 0;
              continue;
            }
          }
          count.events++;
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
  })();
  // A stream that ends or fails before its first line is an error, not a console.
  await Promise.race([opened, reading.then(() => Promise.reject(new Error('console stream ended at once')))]);
  return {
    count,
    close: async () => {
      abort.abort();
      await reading.catch(() => undefined);
    },
  };
}

/**
 * One result of several runs of a variant: each metric the mean of the runs', the checks and notes of
 * the last run.
 */
export function meanOf(runs: readonly ScenarioResult[], label: string): ScenarioResult {
  const last = runs.at(-1)!;
  const metrics: Record<string, number> = {};
  for (const name of Object.keys(last.metrics)) {
    const values = runs.map((r) => r.metrics[name]).filter((v): v is number => v !== undefined);
    metrics[name] = values.reduce((a, b) => a + b, 0) / values.length;
  }
  return { ...last, variant: `${last.variant}, ${label}`, metrics };
}

/** `o.consoleSubs` subscribers, events at max rate, without and with the console (order by round). */
export async function fanoutConsole(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o, pool } = ctx;
  const password = randomBytes(12).toString('hex');
  const dashboard = { enabled: true, users: [{ name: USER, passwordHash: await hashPassword(password) }] };
  const node = await ctx.startHerald({ settings: { dashboard }, label: 'dashboard on' });
  const publisher = ctx.publisherFor(node);
  try {
    const sub: ScenarioContext = { ...ctx, server: node, publisher };
    const subs = o.consoleSubs;
    await connectOrThrow(sub, subs, { channel: 'fanout' });
    await sleep(300);
    const cookie = await signIn(node, password);
    // A-B-B-A within the round (odd rounds start without the console, even rounds with it), so that a
    // machine getting faster or slower during the round weighs on both sides alike.
    const first = ctx.round % 2 === 1 ? 'without' : 'with';
    const second = first === 'with' ? 'without' : 'with';
    const order = [first, second, second, first] as const;
    const runs: Record<'with' | 'without', ScenarioResult[]> = { with: [], without: [] };
    const seen: ConsoleCount = { events: 0, markers: 0, dropped: 0 };
    let seconds = 0;
    for (const variant of order) {
      const open = variant === 'with' ? await openConsole(node, cookie) : undefined;
      const started = performance.now();
      try {
        runs[variant].push(await fanoutVariant(sub, subs, 'events', 'max'));
      } finally {
        if (open) {
          seconds += (performance.now() - started) / 1000;
          await open.close();
          seen.events += open.count.events;
          seen.markers += open.count.markers;
          seen.dropped += open.count.dropped;
        }
      }
    }
    const results = {
      without: meanOf(runs.without, 'console closed'),
      with: meanOf(runs.with, 'console open'),
    };
    await pool.all('progress', { everyMs: 0 });
    const without = results.without;
    const withConsole = results.with;
    withConsole.metrics.console_ratio =
      withConsole.metrics.delivered_per_s! / without.metrics.delivered_per_s!;
    withConsole.metrics.console_events = seen.events;
    withConsole.metrics.console_dropped = seen.dropped;
    withConsole.checks = {
      ...withConsole.checks,
      console: { ...seen, seconds, eventsPerS: seen.events / seconds },
    };
    return [results[first], results[second]];
  } finally {
    publisher.close();
    await pool.all('closeAll');
    await node.stop();
  }
}
