/**
 * The bench's options: defaults, the reduced sizes of `--quick`, and parsing of the command line and
 * of the `BENCH_*` environment variables.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SCENARIOS, SCENARIOS } from './scenarios.js';

/** The repository; this file runs compiled, as dist/bench/lib/options.js. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The bench's folder in the repository (not in dist/): Soketi's install and the results live there. */
export const BENCH = path.join(ROOT, 'bench');

export const USAGE = `Usage: npm run bench -- [scenario…] [options]
       node dist/bench/run.js [scenario…] [options]     (after npm run build)

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
  --wamp-fanout-subs LIST subscriber sessions of the wamp-fanout scenario (default 1000,10000)
  --wamp-serializers LIST wamp-fanout's serializers (default json,msgpack,cbor)
  --wamp-window N         wamp-fanout's acknowledged publications in flight (default 16)
  --wamp-rpc-callers LIST --wamp-rpc-callees LIST   wamp-rpc's callers and callees (default 1,16 / 1,4)
  --wamp-rpc-serializers LIST   wamp-rpc's serializers (default json,msgpack)
  --wamp-rpc-window N     calls in flight per caller (default 16)
  --apps-total N --apps-active N --apps-conns-per-app N   apps-postgres: apps in the store, apps in use,
                          connections per app in use (default 10000, 1000, 10)
  --apps-stores LIST      config,postgres (default both): where apps-postgres keeps its apps
  --apps-pg-url URL       the PostgreSQL database of apps-postgres (default postgres://postgres@127.0.0.1:5432/test)
  --apps-cache-ttl-ms N --apps-lookups-per-second N      Herald's appStore.cacheTtlMs and
                          appStore.lookupsPerSecond with postgres (default 60000, 1000: Herald's own)
  --apps-preload N        Herald's appStore.preload with postgres (default 10000, Herald's own: the
                          table's apps are loaded at start; 0 measures a cold node looking each app up)
  --console-subs N        subscribers of the fanout-console and fanout-history scenarios (default 1000)
  --storm-clients N       subscribers dropped at once by the storm scenario (default 10000)
  --storm-rate N          events/s published to all of them meanwhile (default 5)
  --storm-variants LIST   cut,restart,restart-activated (default cut,restart): TCP resets, the server
                          restarted, or restarted on a socket held as systemd does (Herald only)
  --storm-max-ms N        longest wait for every client to come back (default 150000)
  --clients N             load-client processes (default 2)
  --cpu-prof              write Herald CPU profiles to <out>/profiles/ (see dist/bench/profile-top.js)
  --herald-node-options S node flags for Herald's processes, space-separated (e.g. "--max-semi-space-size=2")
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
  clusterBrokers: ['redis', 'nats'] as ('redis' | 'nats')[],
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
  wampFanoutSubs: [1000, 10_000],
  wampSerializers: ['json', 'msgpack', 'cbor'],
  wampWindow: 16,
  wampRpcCallers: [1, 16],
  wampRpcCallees: [1, 4],
  wampRpcSerializers: ['json', 'msgpack'],
  wampRpcWindow: 16,
  appsTotal: 10_000,
  appsActive: 1000,
  appsConnsPerApp: 10,
  appsStores: ['config', 'postgres'],
  appsPgUrl: 'postgres://postgres@127.0.0.1:5432/test',
  appsCacheTtlMs: 60_000,
  appsLookupsPerSecond: 1000,
  appsPreload: 10_000,
  consoleSubs: 1000,
  stormClients: 10_000,
  stormRate: 5,
  stormVariants: ['cut', 'restart'],
  stormMaxMs: 150_000,
  cpuProf: false,
  heraldNodeOptions: '',
  heraldRoot: ROOT,
  install: true,
  quick: false,
  out: path.join(BENCH, 'results'),
};

const QUICK: Partial<Defaults> = {
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
  wampFanoutSubs: [200, 1000],
  appsTotal: 1000,
  appsActive: 100,
  consoleSubs: 200,
  stormClients: 500,
};

type Defaults = typeof DEFAULTS;

/** Every option, and what was asked for: the scenarios, and the soak's length in ms. */
export type Options = Defaults & { scenarios: string[]; soakMs: number };

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const snake = (s: string) => s.replace(/([A-Z])/g, '_$1').toUpperCase();
const isOption = (key: string): key is keyof Defaults => key in DEFAULTS;

/** `value` (a string, or `true` for a flag) as the type of the option's default. */
function coerce(key: keyof Defaults, value: string | true): unknown {
  const def: unknown = DEFAULTS[key];
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

export function parseOptions(argv: string[]): Options {
  const o: Record<string, unknown> = { ...DEFAULTS };
  const fromEnv: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULTS) as (keyof Defaults)[]) {
    const v = process.env[`BENCH_${snake(key)}`];
    if (v !== undefined) fromEnv[key] = coerce(key, v);
  }
  const fromArgs: Record<string, unknown> = {};
  const scenarios: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    }
    if (!a.startsWith('--')) {
      scenarios.push(a);
      continue;
    }
    const [name = '', inline] = a.slice(2).split(/=(.*)/s);
    let value: string | undefined = inline;
    if (name.startsWith('no-') && isOption(camel(name.slice(3)))) {
      fromArgs[camel(name.slice(3))] = false;
      continue;
    }
    const key = camel(name);
    if (!isOption(key)) throw new Error(`unknown option --${name}\n\n${USAGE}`);
    if (typeof DEFAULTS[key] === 'boolean' && value === undefined) {
      fromArgs[key] = true;
      continue;
    }
    if (value === undefined) value = argv[++i];
    fromArgs[key] = coerce(key, value as string);
  }
  const quick = fromArgs.quick ?? fromEnv.quick ?? false;
  Object.assign(o, quick ? QUICK : {}, fromEnv, fromArgs, { quick });
  for (const s of scenarios) {
    if (!(s in SCENARIOS)) throw new Error(`unknown scenario "${s}"\n\n${USAGE}`);
  }
  o.scenarios = scenarios.length > 0 ? scenarios : DEFAULT_SCENARIOS;
  o.soakMs = (o.soakMinutes as number) * 60_000;
  return o as Options;
}
