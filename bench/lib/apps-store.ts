/**
 * Many apps (Herald only): the same load against 10,000 apps kept in the config file, then kept in a
 * PostgreSQL table. A tenth of them are in use: 10 connections each, every one subscribed to its app's
 * channel, then events published through the HTTP API, each request to `/apps/{id}/events` signed
 * with its app's own secret. From PostgreSQL, Herald looks an app up once and keeps it for
 * `appStore.cacheTtlMs` (an HTTP request's lookup by id shares the entry of the connections' lookup by
 * key), so the table should see about one query per app in use per TTL; the bench counts the table's
 * scans to check. The rates of the two stores should be within about a tenth of each other.
 */
import { randomBytes } from 'node:crypto';
import { AppsTable, type Scans } from './apps-table.js';
import { connectOrThrow, cpu, measuredHttpLoad, ms, waitUntil, window } from './measure.js';
import type { App } from './publisher.js';
import type { ScenarioContext, ScenarioResult, Target } from './scenarios.js';
import type { ServerProcess } from './servers.js';
import { histogramQuantile } from './stats.js';

/** The public channel every connection of an app subscribes to, and its events go to. */
const CHANNEL = 'apps';

/** How long the bench waits for Herald's database connections to close after it stopped. */
const GONE_MS = 10_000;

type Store = 'config' | 'postgres';

/** `total` apps, each with a secret of its own. */
function benchApps(total: number): App[] {
  return Array.from({ length: total }, (_, i) => ({
    id: `app-${i}`,
    key: `key-${i}`,
    secret: randomBytes(12).toString('hex'),
  }));
}

/** `count` of `apps`, spread evenly over them. */
function spread(apps: readonly App[], count: number): App[] {
  const n = Math.min(count, apps.length);
  return Array.from({ length: n }, (_, i) => apps[Math.floor((i * apps.length) / n)]!);
}

export async function appsPostgres(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o } = ctx;
  const apps = benchApps(o.appsTotal);
  const inUse = spread(apps, o.appsActive);
  const connections = inUse.length * o.appsConnsPerApp;
  if (connections > ctx.maxConnections) {
    throw new Error(
      `${connections} connections need as many open files in Herald and the load clients; the hard ` +
        `limit (${ctx.fdHardLimit}) leaves room for ${ctx.maxConnections}: raise it (ulimit -Hn) or lower --apps-active`,
    );
  }
  const stores = o.appsStores.map((store) => {
    if (store !== 'config' && store !== 'postgres') throw new Error(`--apps-stores: no store "${store}"`);
    return store;
  });
  // Odd rounds run the stores in the order given, even rounds the other way round: neither always
  // gets the machine first.
  const results = new Map<Store, ScenarioResult>();
  for (const store of ctx.round % 2 === 1 ? stores : [...stores].reverse()) {
    results.set(store, await variant(ctx, store, apps, inUse));
  }
  // The comparison the scenario is for, within one round: PostgreSQL's rates over the config file's.
  const config = results.get('config')?.metrics;
  const postgres = results.get('postgres')?.metrics;
  if (config && postgres) {
    postgres.conn_per_s_vs_config = postgres.conn_per_s! / config.conn_per_s!;
    postgres.req_per_s_vs_config = postgres.req_per_s! / config.req_per_s!;
    postgres.p99_vs_config = postgres.p99_ms! / config.p99_ms!;
  }
  return stores.map((store) => results.get(store)!);
}

/** One store's run: a Herald serving `apps` from it, connections to the apps `inUse`, then HTTP API load. */
async function variant(
  ctx: ScenarioContext,
  store: Store,
  apps: readonly App[],
  inUse: readonly App[],
): Promise<ScenarioResult> {
  const { o, pool } = ctx;
  const notes: string[] = [];
  let table: AppsTable | undefined;
  let node: ServerProcess | undefined;
  try {
    let settings: Record<string, unknown>;
    if (store === 'postgres') {
      table = await AppsTable.create(o.appsPgUrl, apps);
      settings = {
        // The bench's own app too is not served from the config file with a database store.
        apps: undefined,
        appStore: {
          driver: 'postgres',
          url: table.heraldUrl,
          table: table.table,
          cacheTtlMs: o.appsCacheTtlMs,
          lookupsPerSecond: o.appsLookupsPerSecond,
          preload: o.appsPreload,
        },
      };
    } else {
      settings = { apps };
    }
    const scans0 = await table?.scans();
    const started = performance.now();
    node = await ctx.startHerald({ settings, label: `${store} store` });
    const sub: ScenarioContext<Target> = { ...ctx, server: node };

    const connections = inUse.length * o.appsConnsPerApp;
    await pool.all('resetCounts', { seqCheck: false });
    await pool.all('reset');
    const c0 = cpu(sub);
    const c = await connectOrThrow(sub, connections, { channel: CHANNEL, apps: [...inUse] });
    const c1 = cpu(sub);
    const rssSetup = node.stats().rssBytes;

    const http = await httpLoad(sub, inUse);
    const expected = http.published * o.appsConnsPerApp;
    await waitUntil(async () => (await pool.stats()).received >= expected, o.drainMs, 100);
    const s = await pool.stats();
    await pool.all('closeAll');

    let queries: { scans: Scans; bound: number; runMs: number } | undefined;
    if (table && scans0) {
      if ((await table.heraldConnections()) === 0) {
        notes.push(`no connection named ${table.applicationName}: the query count may miss the last second`);
      }
      await node.stop();
      const runMs = performance.now() - started;
      if (!(await table.heraldGone(GONE_MS))) {
        notes.push(`Herald's database connections still open ${GONE_MS} ms after it stopped`);
      }
      const scans1 = await table.scans();
      const scans = { seq: scans1.seq - scans0.seq, idx: scans1.idx - scans0.idx };
      // At most one query per app in use per TTL begun (the first lookups start the first TTL).
      const bound = inUse.length * Math.ceil(runMs / o.appsCacheTtlMs);
      if (scans.seq + scans.idx > bound) {
        notes.push(`${scans.seq + scans.idx} queries on the apps table, more than ${bound}`);
      }
      queries = { scans, bound, runMs: Math.round(runMs) };
    }

    const w = window(c0, c1);
    return {
      variant: `${store === 'postgres' ? 'PostgreSQL table' : 'config file'}, ${apps.length} apps, ${inUse.length} in use × ${o.appsConnsPerApp} conns`,
      metrics: {
        conn_per_s: connections / (c.ms / 1000),
        cpu_us_per_conn: w.serverUs / connections,
        rss_setup_mb: rssSetup / 2 ** 20,
        req_per_s: http.requests / (o.measureMs / 1000),
        p50_ms: ms(histogramQuantile(http.hist, 0.5)),
        p99_ms: ms(histogramQuantile(http.hist, 0.99)),
        cpu_us_per_req: http.serverUs / http.requests,
        failed_requests: http.requests - (http.statuses[200] ?? 0),
        undelivered: Math.max(0, expected - s.received),
        clients_cpu_pct: http.clientsPct,
        ...(queries
          ? { app_queries: queries.scans.seq + queries.scans.idx, app_queries_bound: queries.bound }
          : {}),
      },
      checks: {
        connections,
        statuses: http.statuses,
        published: http.published,
        delivered: s.received,
        open: s.open,
        closeCodes: s.closeCodes,
        errors: s.errors,
        ...(table ? { table: table.table, ...queries } : {}),
      },
      notes,
    };
  } finally {
    await pool.all('closeAll');
    await node?.stop();
    await table?.drop();
  }
}

/**
 * `o.httpClients` keep-alive clients sending `POST /events` to the apps in use, each load client taking
 * every n-th app in turn and signing each request with that app's secret, as the `pusher` SDK does.
 */
async function httpLoad(ctx: ScenarioContext<Target>, inUse: readonly App[]) {
  const { o, pool, server } = ctx;
  const n = pool.size;
  const loads = pool.all('httpLoad', (i) => {
    const share = inUse.filter((_, j) => j % n === i);
    const apps = share.length > 0 ? share : [...inUse];
    return {
      host: server.host,
      port: server.port,
      app: apps[0]!,
      apps,
      publisher: 'sdk' as const,
      clients: Math.floor(o.httpClients / n) + (i < o.httpClients % n ? 1 : 0),
      channel: CHANNEL,
      warmupMs: o.warmupMs,
      durationMs: o.measureMs,
      bytes: 100,
    };
  });
  return measuredHttpLoad(ctx, loads);
}
