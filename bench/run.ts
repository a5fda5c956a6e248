#!/usr/bin/env node
/**
 * Herald vs Soketi, side by side. `npm run bench` builds, then runs this file compiled
 * (dist/bench/run.js): every scenario but the soak; name scenarios to run only those
 * (`npm run bench -- fanout soak`). See USAGE (lib/options.ts) for the options.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { signRequest } from '../src/protocol/pusher/auth.js';
import { BENCH, type Options, parseOptions } from './lib/options.js';
import { WorkerPool } from './lib/pool.js';
import { Publisher } from './lib/publisher.js';
import { markdown, type ResultRecord, type RunMeta, summarise } from './lib/report.js';
import { HERALD_ONLY, SCENARIOS, type ScenarioContext } from './lib/scenarios.js';
import { APP, fdLimits, type ServerProcess, startFloor, startHerald, startSoketi } from './lib/servers.js';
import { ensureSoketi, type SoketiStatus } from './lib/soketi.js';
import { round } from './lib/stats.js';

const DESCRIPTIONS: Record<string, string> = {
  fanout:
    'One public channel, N subscribers, events published through the HTTP API (`events`, or ' +
    '`batch_events` with 10 per request). Max rate: as fast as the subscribers keep up (publishing ' +
    'pauses while they lag). Fixed rate: a set number of deliveries per second. Latency is from the ' +
    'publish request being sent to a subscriber reading the message.',
  'client-events':
    'A private channel; a few members send client events, every other member receives them. Max rate: as ' +
    'fast as the receivers keep up (senders pause while they lag). Fixed rate: a set rate per sender.',
  connections:
    'Idle connections, each subscribed to one of 100 public channels: setup rate (handshake to ' +
    '`subscription_succeeded`) and server memory per connection: the idle server before and after the ' +
    'connections, each once its RSS has settled (V8 gives back the young generation a burst grew tens of ' +
    'seconds into idleness), and RSS just after the setup.',
  'http-api':
    '`POST /events` to a channel without subscribers from concurrent keep-alive clients; latency is per ' +
    'request. With Herald, the pre-signed load also goes to a bare `node:http` server that reads the body ' +
    'and answers `{}` (the floor: Node itself on this machine), in the same round; the floor row is ' +
    "Herald's rate over the floor's.",
  presence:
    'Members join and leave one presence channel in a loop (subscribe, wait for success, unsubscribe); ' +
    'observers must see exactly one `member_added` and one `member_removed` per join, in order.',
  'slow-consumer':
    'A tenth of the subscribers stop reading while large events keep coming. Reading subscribers ' +
    'should keep their latency, the server should not grow without bound, and the stalled ones should be ' +
    'disconnected.',
  cluster:
    'Herald only: the same subscribers on one node, then spread over three nodes sharing Redis or NATS, ' +
    'with the publisher on the first node. The bus adds latency (three nodes minus one node, same fixed rate).',
  'wamp-patterns':
    'Herald only: WAMP publications (acknowledged, 200 in flight) to a topic with one subscriber, while ' +
    'one session holds N subscriptions that match nothing published: exact, prefix or wildcard. ' +
    'Matching must cost what the topic costs, not what N costs: pattern variants within a fifth of exact.',
  'wamp-fanout':
    'Herald only: N WAMP subscriber sessions on one topic (raw-socket load clients), one publisher session ' +
    'sending acknowledged publications at max rate, a window of them in flight, pausing while the ' +
    'subscribers lag (as `fanout` does); per serializer (`wamp.2.json`, `wamp.2.msgpack`, `wamp.2.cbor`; ' +
    'one the server does not offer is noted as not supported by this build). Latency is from the ' +
    'publisher writing the publication to a subscriber reading the EVENT; every subscriber must get every ' +
    'sequence number, in order. Not compared with Crossbar.io: it could not be installed where the bench ' +
    'was set up (Debian has no crossbar package and PyPI was not reachable), and Soketi speaks no WAMP.',
  'wamp-rpc':
    'Herald only: callers each keep a window of calls in flight to one procedure that 1 or 4 callees ' +
    "share (`invoke: 'roundrobin'`) and answer by echoing the arguments; all are raw-socket load clients. " +
    'Latency is from a caller writing the CALL to reading the RESULT. The callee spread is the invocations ' +
    'of the busiest callee minus those of the idlest over the run (round robin: at most 1). Not compared ' +
    'with Crossbar.io (see wamp-fanout).',
  'apps-postgres':
    "Herald only: 10,000 apps in the config file, then in a PostgreSQL table (created by the store's " +
    'migration, dropped afterwards); 1,000 of them in use with 10 connections each, every one subscribed ' +
    "to its app's channel, then `POST /events` from concurrent keep-alive clients, each request signed " +
    "with its app's secret. Setup rate is TCP connect to `subscription_succeeded`; latency is per " +
    "request. Queries are the table's index and sequential scans (`pg_stat_user_tables`) from Herald's " +
    'start to its stop: at most one per app in use per `appStore.cacheTtlMs`; with `appStore.preload` ' +
    "(Herald's default; `--apps-preload 0` for a cold node) one query at start loads the table. The ÷ rows compare the " +
    'stores within a round; odd rounds start with the config file, even rounds with PostgreSQL.',
  'fanout-console':
    'Herald only: the fan-out at max rate (`events`, N subscribers on one channel) on a node with the ' +
    "dashboard on, without and with the app's debug console (`GET /dashboard/api/apps/{id}/console`, " +
    'Server-Sent Events) open and read continuously by the bench process after signing in. The ÷ row is ' +
    'the rate with the console over the rate without it in the same round. Each round runs both twice, ' +
    'A-B-B-A (odd rounds start without the console, even rounds with it), and each cell of a round is ' +
    'the mean of its two runs. The console gets at most its rate cap; the rest is counted from its ' +
    '`dropped` markers.',
  storm:
    'N subscribers spread over 100 public channels, all dropped at once, then measured until every one is ' +
    'subscribed again and has received an event published after it resubscribed, while events go to all ' +
    '100 channels at a fixed rate (`channels`, one request at a time). Network cut: every client resets its ' +
    'TCP connection, the server stays up. Server restart: SIGTERM, and a new process on the same port at ' +
    'once (started again as soon as the port is free if it cannot listen yet). The clients come back as ' +
    'pusher-js 8 does (pusher-js src/core/connection/connection_manager.ts, connection/protocol/protocol.ts, ' +
    'connection/handshake/index.ts, strategies/sequential_strategy.ts, runtimes/isomorphic/default_strategy.ts): ' +
    'after an abnormal close (1006) in 1000 ms, after 4200–4299 at once, after 4100–4199 in 1000 ms, never ' +
    'after 4000–4099; an attempt refused before the WebSocket opens (connection refused, HTTP 503) is ' +
    'followed by the next only after the strategy timeout, 15 s, then 30 s, then 60 s; then they subscribe ' +
    'again. No jitter. Times run from the drop; per-client times are to subscribed again; server CPU and RSS ' +
    "include, on a restart, both processes (the new one's from its start). Missed events: those the server " +
    'accepted between the last event a client got before the drop and the first after (no history yet).',
  'fanout-history':
    'Herald only: the fan-out (`events`, N subscribers on one channel) at max rate and at the fixed rate of ' +
    '`fanout`, on a node whose app keeps a stream of the channel (`history`, docs/recovery.md) and on a node ' +
    'without history, A-B-B-A in each round (odd rounds start without history); each cell of a round is the ' +
    'mean of its two runs; the ÷ rows are the max rate with history over the rate without it, and the CPU ' +
    'per message at the fixed rate with history over that without it.',
  soak: 'A long run at a moderate rate: RSS sampled, every subscriber must get every sequence number in order.',
};

const stamp = () => new Date().toISOString().replace(/:/g, '-').replace(/\..*/, '');
const log = (msg: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

function gitInfo(root: string): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: root,
      encoding: 'utf8',
    });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Children still running, killed if this process is interrupted. */
const live = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of live) child.kill('SIGKILL');
    process.exit(130);
  });
}

async function main() {
  const o = parseOptions(process.argv.slice(2));
  if (!existsSync(path.join(o.heraldRoot, 'dist/src/cli/main.js'))) {
    console.error(
      `${o.heraldRoot}: dist/ is missing: build first (\`npm run bench\` does, or \`npm run build\`).`,
    );
    process.exit(1);
  }

  const startedAt = stamp();
  mkdirSync(path.join(o.out, 'logs'), { recursive: true });
  const jsonl = path.join(o.out, `${startedAt}.jsonl`);
  const write = (record: object) => appendFileSync(jsonl, `${JSON.stringify(record)}\n`);
  const { hard: fdHardLimit } = fdLimits();
  // The server needs a descriptor per connection plus a few of its own.
  const maxConnections = Number.isFinite(fdHardLimit) ? fdHardLimit - 100 : 1_000_000;

  let soketi: SoketiStatus = { ok: false, reason: 'not requested (--servers)' };
  if (o.servers.includes('soketi')) {
    soketi = await ensureSoketi(path.join(BENCH, '.soketi'), { install: o.install, log });
    if (!soketi.ok) log(`Soketi is missing, running Herald alone: ${soketi.reason}`);
  }
  const servers = o.servers.filter((s) => s === 'herald' || (s === 'soketi' && soketi.ok));
  const meta: RunMeta = {
    type: 'meta',
    startedAt,
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memGb: Math.round(os.totalmem() / 2 ** 30),
    loadavg: os.loadavg().map((x) => round(x, 2)),
    fdHardLimit,
    herald: { root: o.heraldRoot, ...gitInfo(o.heraldRoot), nodeOptions: o.heraldNodeOptions },
    soketi,
    rounds: o.rounds,
    quick: o.quick,
    options: o,
  };
  write(meta);
  log(`results: ${jsonl}`);

  const records: ResultRecord[] = [];
  for (const scenario of o.scenarios) {
    const rounds = scenario === 'soak' ? o.soakRounds : o.rounds;
    for (let r = 1; r <= rounds; r++) {
      const order = r % 2 === 1 ? ['herald', 'soketi'] : ['soketi', 'herald'];
      const names = order.filter(
        (s) => servers.includes(s) && (s === 'herald' || !HERALD_ONLY.has(scenario)),
      );
      for (const name of names) {
        log(`${scenario}: round ${r}/${rounds}, ${name}`);
        const results = await runOne({
          o,
          name,
          scenario,
          round: r,
          fdHardLimit,
          maxConnections,
          startedAt,
        });
        for (const result of results) {
          write(result);
          records.push(result);
          if (result.error) log(`  error: ${result.error.split('\n')[0]}`);
          else log(`  ${result.variant}: ${brief(result.metrics ?? {})}`);
        }
      }
    }
  }
  const summaries = summarise(records);
  for (const s of summaries) write(s);
  const md = markdown({ meta, summaries, records, descriptions: DESCRIPTIONS });
  writeFileSync(path.join(o.out, `${startedAt}.md`), md);
  writeFileSync(path.join(o.out, 'latest.md'), md);
  console.log(`\n${md}`);
  log(`written ${jsonl} and ${path.join(o.out, 'latest.md')}`);
}

function brief(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k}=${round(v, 3)}`)
    .join(' ');
}

/** One server's run of one scenario in one round. */
interface Run {
  o: Options;
  name: string;
  scenario: string;
  round: number;
  fdHardLimit: number;
  maxConnections: number;
  startedAt: string;
}

async function runOne(run: Run): Promise<ResultRecord[]> {
  const { o, name, scenario, round: r, fdHardLimit, maxConnections, startedAt } = run;
  const base = {
    type: 'result' as const,
    scenario,
    server: name,
    round: r,
    loadavg: os.loadavg().map((x) => round(x, 2)),
  };
  const logFile = path.join(o.out, 'logs', `${startedAt}-${name}.log`);
  const label = `${scenario} round ${r}`;
  let server: ServerProcess | undefined;
  const extra: ServerProcess[] = [];
  let pool: WorkerPool | undefined;
  let publisher: Publisher | undefined;
  const started = performance.now();
  const cpuProfDir = o.cpuProf ? path.join(o.out, 'profiles', startedAt) : undefined;
  const nodeOptions = o.heraldNodeOptions.split(' ').filter((flag) => flag !== '');
  try {
    server =
      name === 'herald'
        ? await startHerald({ root: o.heraldRoot, logFile, label, cpuProfDir, nodeOptions })
        : await startSoketi({ soketiDir: path.join(BENCH, '.soketi'), logFile, label });
    live.add(server.child);
    pool = WorkerPool.start(o.clients);
    for (const child of pool.children) live.add(child);
    publisher = new Publisher({
      host: server.host,
      port: server.port,
      app: APP,
      signRequest,
      maxSockets: 64,
    });
    const publisherFor: ScenarioContext['publisherFor'] = (target) =>
      new Publisher({ host: target.host, port: target.port, app: APP, signRequest, maxSockets: 64 });
    // More Herald nodes (a cluster's, or one serving other apps); stopped by the scenario, or here if it failed.
    const startNode: ScenarioContext['startHerald'] = async ({ adapter, settings, label: nodeLabel }) => {
      const node = await startHerald({
        root: o.heraldRoot,
        logFile,
        label: `${label} ${nodeLabel}`,
        cpuProfDir,
        nodeOptions,
        adapter,
        settings,
      });
      live.add(node.child);
      extra.push(node);
      return node;
    };
    const startFloorNode: ScenarioContext['startFloor'] = async () => {
      const node = await startFloor({ root: o.heraldRoot, logFile, label });
      live.add(node.child);
      extra.push(node);
      return node;
    };
    const restart: ScenarioContext['restart'] = async (target, socket) => {
      const restarted = await target.restart(undefined, socket);
      live.add(restarted.next.child);
      extra.push(restarted.next);
      return restarted;
    };
    const ctx: ScenarioContext = {
      o,
      round: r,
      server,
      pool,
      publisher,
      log,
      fdHardLimit,
      maxConnections,
      startHerald: startNode,
      startFloor: startFloorNode,
      publisherFor,
      restart,
    };
    const limitMs =
      scenario === 'soak'
        ? o.soakMs + 5 * 60_000
        : scenario === 'storm'
          ? o.stormVariants.length * o.stormMaxMs + 5 * 60_000
          : scenario === 'wamp-fanout'
            ? 10 * 60_000
            : 5 * 60_000;
    const results = await withTimeout(SCENARIOS[scenario]!(ctx), limitMs, `${scenario} on ${name}`);
    const seconds = round((performance.now() - started) / 1000, 3);
    return results.map((res) => ({ ...base, seconds, ...res, notes: res.notes ?? [] }));
  } catch (err) {
    return [{ ...base, error: (err as Error).stack ?? String(err) }];
  } finally {
    publisher?.close();
    await pool?.stop();
    for (const node of extra) {
      await node.stop();
      live.delete(node.child);
    }
    const exit = await server?.stop();
    for (const child of [server?.child, ...(pool?.children ?? [])]) if (child) live.delete(child);
    if (exit && exit.code !== 0 && exit.signal !== 'SIGTERM') log(`  ${name} exited ${JSON.stringify(exit)}`);
  }
}

main().catch((err: Error) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
