#!/usr/bin/env node
/**
 * Herald vs Soketi, side by side. `npm run bench` runs every scenario but the soak; name scenarios to
 * run only those (`npm run bench -- fanout soak`). See USAGE for the options.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WorkerPool } from './lib/pool.js';
import { Publisher } from './lib/publisher.js';
import { markdown, summarise } from './lib/report.js';
import { DEFAULT_SCENARIOS, HERALD_ONLY, SCENARIOS } from './lib/scenarios.js';
import { APP, fdLimits, startHerald, startSoketi } from './lib/servers.js';
import { ensureSoketi } from './lib/soketi.js';
import { round } from './lib/stats.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH, '..');

const USAGE = `Usage: npm run bench -- [scenario…] [options]
       node bench/run.js [scenario…] [options]     (after npm run build)

Scenarios: ${Object.keys(SCENARIOS).join(', ')}
  (default: every one but soak)

Options (each also as an environment variable: --measure-ms → BENCH_MEASURE_MS):
  --rounds N              A/B rounds per scenario (default 3; soak: --soak-rounds, default 1)
  --servers LIST          herald,soketi (default both)
  --quick                 small sizes and short phases, to check that everything works
  --warmup-ms N --measure-ms N      phase lengths (default 1000 / 5000)
  --fanout-subs LIST      subscriber counts of the fan-out scenario (default 1000,10000)
  --fanout-apis LIST      events,batch (default both)
  --fanout-fixed-deliveries N       deliveries/s of the fixed-rate variant (default 100000)
  --ce-subs N --ce-senders N --ce-rate N      client events (default 1000 subscribers, 10 senders × 20/s)
  --ce-modes LIST         max,fixed (default both): senders at max rate and at --ce-rate
  --cluster-subs N        subscribers of the cluster scenario (default 3000)
  --cluster-brokers LIST  redis,nats (default both); --redis-url URL --nats-url URL (default: the local ones)
  --conn-targets LIST     idle connection counts (default 10000,20000; capped by the open-file limit)
  --conn-idle-max-ms N    longest wait for the idle server's RSS to settle (default 90000)
  --http-clients N        concurrent HTTP API clients (default 16)
  --presence-observers N --presence-churners N   (default 20 / 100)
  --slow-subs N --slow-every N --slow-rate N --slow-bytes N --slow-ms N
  --soak-minutes N --soak-subs N --soak-rate N  (default 10 min, 1000 subscribers, 50 events/s)
  --wamp-patterns N       pattern subscriptions of the wamp-patterns scenario (default 50000)
  --clients N             load-client processes (default 2)
  --cpu-prof              write Herald CPU profiles to <out>/profiles/ (see bench/profile-top.js)
  --herald-root DIR       the Herald checkout to run (built; default this one), to compare two builds
  --no-install            do not install Soketi; run Herald alone if it is missing
  --out DIR               results folder (default bench/results)`;

const DEFAULTS = {
  rounds: 3,
  soakRounds: 1,
  servers: ['herald', 'soketi'],
  clients: 2,
  warmupMs: 1000,
  measureMs: 5000,
  drainMs: 5000,
  fanoutSubs: [1000, 10_000],
  fanoutApis: ['events', 'batch'],
  fanoutFixedDeliveries: 100_000,
  fanoutWindowFrames: 100_000,
  ceSubs: 1000,
  ceSenders: 10,
  ceRate: 20,
  ceModes: ['max', 'fixed'],
  clusterSubs: 3000,
  clusterBrokers: ['redis', 'nats'],
  redisUrl: 'redis://127.0.0.1:6379',
  natsUrl: 'nats://127.0.0.1:4222',
  connTargets: [10_000, 20_000],
  connSettleMs: 2000,
  connIdleMaxMs: 90_000,
  httpClients: 16,
  presenceObservers: 20,
  presenceChurners: 100,
  slowSubs: 1000,
  slowEvery: 10,
  slowRate: 60,
  slowBytes: 8000,
  slowBaselineMs: 4000,
  slowMs: 25_000,
  soakMinutes: 10,
  soakSubs: 1000,
  soakRate: 50,
  soakSampleMs: 10_000,
  wampPatterns: 50_000,
  cpuProf: false,
  heraldRoot: ROOT,
  install: true,
  quick: false,
  out: path.join(BENCH, 'results'),
};

const QUICK = {
  rounds: 1,
  warmupMs: 500,
  measureMs: 2000,
  drainMs: 3000,
  fanoutSubs: [200, 1000],
  fanoutFixedDeliveries: 20_000,
  ceSubs: 200,
  ceSenders: 4,
  connTargets: [1000, 2000],
  connSettleMs: 1000,
  connIdleMaxMs: 20_000,
  presenceObservers: 6,
  presenceChurners: 20,
  slowSubs: 200,
  slowBaselineMs: 2000,
  slowRate: 100,
  slowMs: 12_000,
  clusterSubs: 600,
  soakMinutes: 1,
  soakSubs: 200,
  soakSampleMs: 5000,
  wampPatterns: 5000,
};

const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
const snake = (s) => s.replace(/([A-Z])/g, '_$1').toUpperCase();

function coerce(key, value) {
  const def = DEFAULTS[key];
  if (Array.isArray(def)) {
    return String(value)
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean)
      .map((v) => (typeof def[0] === 'number' ? Number(v) : v));
  }
  if (typeof def === 'number') {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Error(`--${key}: not a number: ${value}`);
    return n;
  }
  if (typeof def === 'boolean') return value === true || value === 'true' || value === '1';
  return String(value);
}

function parseOptions(argv) {
  const o = { ...DEFAULTS };
  const fromEnv = {};
  for (const key of Object.keys(DEFAULTS)) {
    const v = process.env[`BENCH_${snake(key)}`];
    if (v !== undefined) fromEnv[key] = coerce(key, v);
  }
  const fromArgs = {};
  const scenarios = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    }
    if (!a.startsWith('--')) {
      scenarios.push(a);
      continue;
    }
    let [name, value] = a.slice(2).split(/=(.*)/s);
    if (name.startsWith('no-') && camel(name.slice(3)) in DEFAULTS) {
      fromArgs[camel(name.slice(3))] = false;
      continue;
    }
    const key = camel(name);
    if (!(key in DEFAULTS)) throw new Error(`unknown option --${name}\n\n${USAGE}`);
    if (typeof DEFAULTS[key] === 'boolean' && value === undefined) {
      fromArgs[key] = true;
      continue;
    }
    if (value === undefined) value = argv[++i];
    fromArgs[key] = coerce(key, value);
  }
  const quick = fromArgs.quick ?? fromEnv.quick ?? false;
  Object.assign(o, quick ? QUICK : {}, fromEnv, fromArgs, { quick });
  for (const s of scenarios) {
    if (!(s in SCENARIOS)) throw new Error(`unknown scenario "${s}"\n\n${USAGE}`);
  }
  o.scenarios = scenarios.length > 0 ? scenarios : DEFAULT_SCENARIOS;
  o.soakMs = o.soakMinutes * 60_000;
  return o;
}

const DESCRIPTIONS = {
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
    '`POST /events` to a channel without subscribers from concurrent keep-alive clients; latency is per request.',
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
  soak: 'A long run at a moderate rate: RSS sampled, every subscriber must get every sequence number in order.',
};

const stamp = () => new Date().toISOString().replace(/:/g, '-').replace(/\..*/, '');
const log = (msg) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

function gitInfo(root) {
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

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Children still running, killed if this process is interrupted. */
const live = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of live) child.kill('SIGKILL');
    process.exit(130);
  });
}

async function main() {
  const o = parseOptions(process.argv.slice(2));
  const authFile = path.join(ROOT, 'dist/src/protocol/pusher/auth.js');
  if (!existsSync(authFile) || !existsSync(path.join(ROOT, 'dist/src/cli/main.js'))) {
    console.error('dist/ is missing: build first (`npm run bench` does, or `npm run build`).');
    process.exit(1);
  }
  const authModule = pathToFileURL(authFile).href;
  const { signRequest } = await import(authModule);

  const startedAt = stamp();
  mkdirSync(path.join(o.out, 'logs'), { recursive: true });
  const jsonl = path.join(o.out, `${startedAt}.jsonl`);
  const write = (record) => appendFileSync(jsonl, `${JSON.stringify(record)}\n`);
  const { hard: fdHardLimit } = fdLimits();
  // The server needs a descriptor per connection plus a few of its own.
  const maxConnections = Number.isFinite(fdHardLimit) ? fdHardLimit - 100 : 1_000_000;

  let soketi = { ok: false, reason: 'not requested (--servers)' };
  if (o.servers.includes('soketi')) {
    soketi = await ensureSoketi(path.join(BENCH, '.soketi'), { install: o.install, log });
    if (!soketi.ok) log(`Soketi is missing, running Herald alone: ${soketi.reason}`);
  }
  const servers = o.servers.filter((s) => s === 'herald' || (s === 'soketi' && soketi.ok));
  const meta = {
    type: 'meta',
    startedAt,
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memGb: Math.round(os.totalmem() / 2 ** 30),
    loadavg: os.loadavg().map((x) => round(x, 2)),
    fdHardLimit,
    herald: { root: o.heraldRoot, ...gitInfo(o.heraldRoot) },
    soketi,
    rounds: o.rounds,
    quick: o.quick,
    options: o,
  };
  write(meta);
  log(`results: ${jsonl}`);

  const records = [];
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
          signRequest,
          authModule,
          fdHardLimit,
          maxConnections,
          startedAt,
        });
        for (const result of results) {
          write(result);
          records.push(result);
          if (result.error) log(`  error: ${result.error.split('\n')[0]}`);
          else log(`  ${result.variant}: ${brief(result.metrics)}`);
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

function brief(metrics) {
  return Object.entries(metrics)
    .map(([k, v]) => `${k}=${round(v, 3)}`)
    .join(' ');
}

async function runOne({
  o,
  name,
  scenario,
  round: r,
  signRequest,
  authModule,
  fdHardLimit,
  maxConnections,
  startedAt,
}) {
  const base = {
    type: 'result',
    scenario,
    server: name,
    round: r,
    loadavg: os.loadavg().map((x) => round(x, 2)),
  };
  const logFile = path.join(o.out, 'logs', `${startedAt}-${name}.log`);
  const label = `${scenario} round ${r}`;
  let server;
  const extra = [];
  let pool;
  let publisher;
  const started = performance.now();
  try {
    server =
      name === 'herald'
        ? await startHerald({
            root: o.heraldRoot,
            logFile,
            label,
            cpuProfDir: o.cpuProf ? path.join(o.out, 'profiles', startedAt) : undefined,
          })
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
    const publisherFor = (target) =>
      new Publisher({ host: target.host, port: target.port, app: APP, signRequest, maxSockets: 64 });
    // More Herald nodes for the cluster scenario; stopped by the scenario, or here if it failed.
    const startNode = async ({ adapter, label: nodeLabel }) => {
      const node = await startHerald({
        root: o.heraldRoot,
        logFile,
        label: `${label} ${nodeLabel}`,
        adapter,
      });
      live.add(node.child);
      extra.push(node);
      return node;
    };
    const ctx = {
      o,
      server,
      pool,
      publisher,
      log,
      authModule,
      fdHardLimit,
      maxConnections,
      startHerald: startNode,
      publisherFor,
    };
    const limitMs = scenario === 'soak' ? o.soakMs + 5 * 60_000 : 5 * 60_000;
    const results = await withTimeout(SCENARIOS[scenario](ctx), limitMs, `${scenario} on ${name}`);
    const seconds = round((performance.now() - started) / 1000, 3);
    return results.map((res) => ({ ...base, seconds, ...res, notes: res.notes ?? [] }));
  } catch (err) {
    return [{ ...base, error: err.stack ?? String(err) }];
  } finally {
    publisher?.close();
    await pool?.stop();
    for (const node of extra) {
      await node.stop();
      live.delete(node.child);
    }
    const exit = await server?.stop();
    for (const child of [server?.child, ...(pool?.children ?? [])]) live.delete(child);
    if (exit && exit.code !== 0 && exit.signal !== 'SIGTERM') log(`  ${name} exited ${JSON.stringify(exit)}`);
  }
}

main().catch((err) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
