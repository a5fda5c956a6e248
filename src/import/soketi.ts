import type { ConfigInput } from '../config/schema.js';
import { readEnvFile } from './env-file.js';
import { ImportError, type Json, type Notes, pathPrefix, roundedUp } from './notes.js';
import { leavesOf, Settings } from './settings.js';
import { soketiAdapter, soketiAppStore } from './soketi-adapter.js';
import { type AppDefaults, soketiApps } from './soketi-apps.js';
import { SOKETI_ENV } from './soketi-env.js';
import { readObjectFile, setDotted } from './source.js';

/**
 * soketi 1.x (`soketi start --config=config.json`, or its `SOKETI_*` variables in a `.env` file) to
 * a Herald configuration. The options and their defaults are soketi's `src/server.ts` and
 * `src/options.ts`; docs/migrating.md maps each one.
 */
export function importSoketi(text: string, file: string, notes: Notes): ConfigInput {
  const settings = /^\s*\{/.test(text) ? fromConfigFile(text, file, notes) : fromEnvFile(text, file, notes);
  const config: ConfigInput = {};
  const s = settings;

  const host = s.string('host');
  if (host) config.host = host;
  const port = s.integer('port', 0, 65535);
  if (port !== undefined) config.port = port;
  if (s.boolean('debug')) config.logLevel = 'debug';
  const prefix = s.string('pathPrefix');
  if (prefix !== undefined) {
    const p = pathPrefix(prefix);
    if (p === undefined) s.warn('pathPrefix', `"${prefix}" is not a path prefix; left out`);
    else if (p !== '') config.pathPrefix = p;
  }
  const mode = s.string('mode');
  if (mode !== undefined && mode !== 'full') {
    s.warn('mode', `"${mode}": every Herald node serves both WebSocket clients and the HTTP API`);
  }
  const grace = s.positive('shutdownGracePeriod');
  const graceMs = grace === undefined ? undefined : roundedUp(grace);
  if (graceMs !== undefined) config.shutdownTimeoutMs = graceMs;
  const bodyMb = s.positive('httpApi.requestLimitInMb');
  const body = bodyMb === undefined ? undefined : roundedUp(bodyMb * 1024 * 1024);
  if (body !== undefined) config.maxRequestBodyBytes = body;

  tls(s, config);
  metrics(s, config);
  const batchWindow = s.integer('webhooks.batching.duration', 0);
  if (batchWindow !== undefined) config.webhooks = { batchWindowMs: batchWindow };

  const adapterDriver = s.string('adapter.driver') ?? 'local';
  const adapter = soketiAdapter(s, adapterDriver);
  if (adapter) config.adapter = adapter;
  const appDriver = s.string('appManager.driver') ?? 'array';
  const store = soketiAppStore(s, appDriver);
  if (store) config.appStore = store;
  if (appDriver === 'array') config.apps = soketiApps(s, appDefaults(s));

  s.warnRest((path) => reasonFor(path, appDriver, adapterDriver));
  return config;
}

/** soketi's `--config` file: JSON whose keys are option paths, dotted or nested. */
function fromConfigFile(text: string, file: string, notes: Notes): Settings {
  // JSON is YAML too: whatever the file's name makes the parser, soketi's JSON reads the same.
  const json = readObjectFile(text, file);
  const tree: Json = {};
  for (const [key, value] of Object.entries(json)) {
    if (!setDotted(tree, key, value)) notes.warn(key, 'not a name soketi reads; left out');
  }
  return new Settings(leavesOf(tree), notes);
}

/** A `.env` file of `SOKETI_*` variables; each value is JSON when it parses as JSON, as soketi reads it. */
function fromEnvFile(text: string, file: string, notes: Notes): Settings {
  const env = readEnvFile(text, file);
  const tree: Json = {};
  const labels = new Map<string, string>();
  let found = 0;
  for (const [name, raw] of env.values) {
    if (!name.startsWith('SOKETI_')) continue;
    const path = SOKETI_ENV[name.slice('SOKETI_'.length)];
    if (path === undefined || !Object.hasOwn(SOKETI_ENV, name.slice('SOKETI_'.length))) {
      notes.warn(name, 'not a variable soketi reads; left out');
      continue;
    }
    if (env.unresolved.has(name))
      notes.warn(name, 'refers to a variable the file does not set; kept as written');
    found++;
    labels.set(path, name);
    setDotted(tree, path, jsonOrText(raw));
  }
  if (found === 0) throw new ImportError(`${file}: sets no SOKETI_ variable soketi reads`);
  // A setting the file does not write is named by the variable that would set it, when there is one.
  const variables = new Map(Object.entries(SOKETI_ENV).map(([name, path]) => [path, `SOKETI_${name}`]));
  return new Settings(leavesOf(tree), notes, (path) => labels.get(path) ?? variables.get(path) ?? path);
}

function jsonOrText(raw: string): unknown {
  try {
    const parsed: unknown = JSON.parse(raw);
    return parsed === null ? raw : parsed;
  } catch {
    return raw;
  }
}

function tls(s: Settings, config: ConfigInput): void {
  const cert = s.string('ssl.certPath');
  const key = s.string('ssl.keyPath');
  const passphrase = s.string('ssl.passphrase');
  const ca = s.string('ssl.caPath');
  if (!cert && !key) return;
  if (!cert || !key) {
    s.warn(
      cert ? 'ssl.certPath' : 'ssl.keyPath',
      'Herald needs both the certificate and the key; TLS left out',
    );
    return;
  }
  config.tls = { cert, key, ...(passphrase ? { passphrase } : {}), ...(ca ? { ca } : {}) };
}

/**
 * soketi serves `/metrics` (when enabled) and `/usage` on a second port; Herald serves `/metrics`
 * on its public port and, with `api.port`, on an admin listener that also serves the HTTP API.
 */
function metrics(s: Settings, config: ConfigInput): void {
  const driver = s.string('metrics.driver');
  if (driver !== undefined && driver !== 'prometheus') {
    s.warn('metrics.driver', `"${driver}": Herald's /metrics is in the Prometheus text format`);
  }
  s.drop(
    'metrics.prometheus.prefix',
    "Herald's metric names start with herald_ (docs/operations.md, Metrics)",
  );
  if (!s.boolean('metrics.enabled')) return;
  const port = s.integer('metrics.port', 0, 65535);
  const host = s.string('metrics.host');
  config.api = { port: port ?? 9601, host: host ?? '0.0.0.0' };
}

/** soketi's server-wide limits, which are the defaults of every app's own. */
function appDefaults(s: Settings): AppDefaults {
  return {
    maxPresenceMembers: s.integer('presence.maxMembersPerChannel', 1),
    maxPresenceMemberKb: s.positive('presence.maxMemberSizeInKb'),
    maxChannelNameLength: s.integer('channelLimits.maxNameLength', 1),
    cacheTtlSeconds: s.integer('channelLimits.cacheTtl', 1),
    maxChannelsPerTrigger: s.integer('eventLimits.maxChannelsAtOnce', 1),
    maxEventNameLength: s.integer('eventLimits.maxNameLength', 1),
    maxEventPayloadKb: s.positive('eventLimits.maxPayloadInKb'),
    maxBatchSize: s.integer('eventLimits.maxBatchSize', 1),
    userAuthenticationTimeoutMs: s.integer('userAuthenticationTimeout', 1),
    batchWebhooks: s.boolean('webhooks.batching.enabled'),
  };
}

/** Why a setting no mapping read is not carried. */
function reasonFor(path: string, appDriver: string, adapterDriver: string): string {
  for (const [prefix, reason] of REASONS) {
    if (path === prefix || path.startsWith(`${prefix}.`)) return reason;
  }
  const section = /^(adapter|appManager|database)\.([A-Za-z0-9]+)\./.exec(path);
  if (section) {
    const [, part, which] = section;
    if (part === 'appManager' && which !== appDriver) return `used only with appManager.driver "${which}"`;
    if (part === 'adapter' && which !== adapterDriver) return `used only with adapter.driver "${which}"`;
    if (part === 'database') return `not used with this appManager.driver and adapter.driver`;
  }
  return 'not a soketi setting Herald knows; left out';
}

/** Settings with no Herald equivalent, by prefix, and why. */
const REASONS: readonly [string, string][] = [
  ['appManager.array.apps', 'used only with appManager.driver "array"'],
  ['appManager.cache', 'Herald always caches the apps of a database for appStore.cacheTtlMs'],
  ['appManager.mysql.version', 'Herald needs no server version'],
  ['appManager.postgres.version', 'Herald needs no server version'],
  ['appManager.mysql.useMysql2', 'Herald always uses mysql2'],
  ['appManager.dynamodb', 'Herald keeps apps in its configuration, PostgreSQL or MySQL (docs/apps.md)'],
  ['cache', 'Herald keeps the last event of cache channels through its adapter: memory, Redis or NATS'],
  [
    'cluster',
    "soketi's discovery of nodes on a private network: Herald's nodes find each other through the adapter's broker",
  ],
  ['cors', "Herald's HTTP API is for servers (the SDKs) and sends no CORS headers"],
  [
    'databasePooling',
    'used only with a MySQL or PostgreSQL app store, and only when databasePooling.enabled',
  ],
  ['database.redis.keyPrefix', "Herald's Redis keys start with adapter.prefix"],
  ['httpApi.acceptTraffic.memoryThreshold', "a share of memory: Herald's maxMemoryMB is a ceiling in MiB"],
  ['instance', 'Herald draws an id for each node itself'],
  ['queue', 'Herald delivers webhooks itself, with retries (docs/webhooks.md)'],
  [
    'rateLimiter',
    "Herald's rate limits are per node, each node allowing its share (maxHttpRequestsPerSecond)",
  ],
  [
    'webhooks.maxRetries',
    'Herald retries a webhook for webhooks.retryForMs (5 minutes), not a number of times',
  ],
  ['metrics.port', 'used only with metrics.enabled'],
  ['metrics.host', 'used only with metrics.enabled'],
];
