import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { BrokerUnusableError } from '../adapters/parts.js';
import { ConfigError, type ConfigOverrides, type ConfigWarning, loadConfig } from '../config/load.js';
import { type Config, configSchema } from '../config/schema.js';
import { type DevelopmentDashboard, developmentDashboard } from '../dashboard/dev-default.js';
import { createLogger } from '../log/logger.js';
import { signRequest } from '../protocol/pusher/auth.js';
import { Herald } from '../server.js';
import {
  ActivationError,
  forgetActivation,
  type InheritedSockets,
  inheritedSockets,
} from '../transport/activation.js';
import { ListenError } from '../transport/listener.js';
import { TlsError } from '../transport/tls.js';
import { localHost, urlHost } from './address.js';
import { apps } from './apps.js';
import { dashboard } from './dashboard.js';
import { doctor } from './doctor.js';
import { exitOnUnhandledErrors } from './fatal.js';
import { importCommand } from './import.js';
import { superviseWorkers } from './workers.js';

/** What an empty configuration holds, for the defaults the usage text names. */
const DEFAULTS = configSchema.parse({});
const DEFAULT_APP = DEFAULTS.apps[0]!;

const USAGE = `Usage:
  herald start [options]                        start the server
  herald trigger <channel> <event> <data> [options] [--url URL] [--socket-id ID]
                                                publish an event through the HTTP API
  herald doctor [--url URL] [--app-id ID --app-key KEY --app-secret SECRET]
                                                check a running server as a client would (--help for more)
  herald apps <list|show|create|update|enable|disable|delete|rotate-secret|migrate> [--config FILE]
                                                manage the apps of the configured store (--help for more)
  herald dashboard hash-password                hash a password read from standard input for dashboard.users
  herald import <soketi|reverb|crossbar> FILE [--format json|yaml]
                                                print a Herald configuration made from another server's
                                                (--help for more; see docs/migrating.md)

Options:
  --config FILE     config file: YAML when named .yaml or .yml, JSON otherwise; a Crossbar.io
                    node configuration (.crossbar/config.json) is read as it is (docs/migrating.md)
  --host HOST       listen address (default ${DEFAULTS.host})
  --port PORT       listen port (default ${DEFAULTS.port})
  --app-id ID, --app-key KEY, --app-secret SECRET
                    credentials of the first app (default ${DEFAULT_APP.id} / ${DEFAULT_APP.key} / ${DEFAULT_APP.secret})
  --verbose         log at debug level, and every WebSocket frame in and out (secrets redacted)
  --log-format F    pretty or json (default pretty on a terminal, json otherwise)
  --webhook-url URL send every event type of the first app to URL (repeatable)
  --pid-file FILE   write the process id here while running
  --redis-url URL   join a cluster through Redis (adapter.driver redis, adapter.url URL)
  --nats-url URL    join a cluster through NATS with JetStream (adapter.driver nats, adapter.url URL)
  --ssl-cert FILE, --ssl-key FILE
                    serve wss:// and https:// with this PEM certificate and key (re-read on SIGHUP)
  --ssl-ca FILE     PEM intermediate certificates sent with the certificate
  --ssl-passphrase PASSPHRASE
                    passphrase of an encrypted key (HERALD_TLS_PASSPHRASE keeps it out of ps)
  --api-host HOST, --api-port PORT
                    serve the HTTP API and /metrics on this admin listener too (plain HTTP; host
                    default ${DEFAULTS.api.host}); api.public false takes them off the public port
  --workers N       run N processes on the port, one node each (needs --redis-url or --nats-url)
  -h, --help        this text
  -v, --version     print the version

Settings come from the file, then HERALD_* environment variables, then flags; each overrides the one
before. See docs/configuration.md for every setting, its default and its environment variable.`;

const OPTIONS = {
  config: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'app-id': { type: 'string' },
  'app-key': { type: 'string' },
  'app-secret': { type: 'string' },
  verbose: { type: 'boolean' },
  'log-format': { type: 'string' },
  'webhook-url': { type: 'string', multiple: true },
  'pid-file': { type: 'string' },
  'redis-url': { type: 'string' },
  'nats-url': { type: 'string' },
  'ssl-cert': { type: 'string' },
  'ssl-key': { type: 'string' },
  'ssl-ca': { type: 'string' },
  'ssl-passphrase': { type: 'string' },
  'api-host': { type: 'string' },
  'api-port': { type: 'string' },
  workers: { type: 'string' },
  url: { type: 'string' },
  'socket-id': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function overrides(values: Values): ConfigOverrides {
  const o: ConfigOverrides = {};
  if (values.host !== undefined) o.host = values.host;
  if (values.port !== undefined) o.port = values.port;
  if (values['app-id'] !== undefined) o.appId = values['app-id'];
  if (values['app-key'] !== undefined) o.appKey = values['app-key'];
  if (values['app-secret'] !== undefined) o.appSecret = values['app-secret'];
  if (values['pid-file'] !== undefined) o.pidFile = values['pid-file'];
  if (values.workers !== undefined) o.workers = values.workers;
  if (values.verbose) {
    o.logLevel = 'debug';
    o.logFrames = true;
  }
  if (values['log-format'] !== undefined) o.logFormat = values['log-format'];
  if (values['webhook-url'] !== undefined) o.webhookUrls = values['webhook-url'];
  if (values['redis-url'] !== undefined) o.adapter = { driver: 'redis', url: values['redis-url'] };
  if (values['nats-url'] !== undefined) o.adapter = { driver: 'nats', url: values['nats-url'] };
  const tls = defined({
    cert: values['ssl-cert'],
    key: values['ssl-key'],
    ca: values['ssl-ca'],
    passphrase: values['ssl-passphrase'],
  });
  if (Object.keys(tls).length > 0) o.tls = tls;
  const api = defined({ host: values['api-host'], port: values['api-port'] });
  if (Object.keys(api).length > 0) o.api = api;
  return o;
}

/** `values` without its undefined fields. */
function defined<T extends Record<string, string | undefined>>(values: T): { [K in keyof T]?: string } {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: string;
  };
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'doctor') return doctor(argv.slice(1));
  if (argv[0] === 'apps') return apps(argv.slice(1));
  if (argv[0] === 'dashboard') return dashboard(argv.slice(1));
  if (argv[0] === 'import') return importCommand(argv.slice(1));
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return values.help || command === 'help' ? 0 : 2;
  }
  if (values['redis-url'] !== undefined && values['nats-url'] !== undefined) {
    process.stderr.write('herald: --redis-url and --nats-url exclude each other\n');
    return 2;
  }
  let config: Readonly<Config>;
  const warnings: ConfigWarning[] = [];
  try {
    const file = values.config ? { file: values.config, warnings } : {};
    const all = overrides(values);
    if (command === 'trigger') {
      // The app flags name the app to publish as: the first one of the configuration, completed by
      // them, or with apps in a database one of those (which the configuration does not hold).
      const { appId, appKey, appSecret, ...rest } = all;
      config = await loadConfig({ ...file, overrides: rest });
      if (config.appStore.driver === 'config') config = await loadConfig({ ...file, overrides: all });
    } else {
      config = await loadConfig({ ...file, overrides: all });
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`herald: ${err.message}\n`);
    return 2;
  }
  switch (command) {
    case 'start':
      return start(config, warnings);
    case 'trigger':
      return trigger(config, rest, values);
    default:
      process.stderr.write(`herald: unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function start(config: Readonly<Config>, warnings: readonly ConfigWarning[]): Promise<number> {
  let sockets: InheritedSockets | undefined;
  try {
    sockets = inheritedSockets(process.env, process.pid);
  } catch (err) {
    if (!(err instanceof ActivationError)) throw err;
    process.stderr.write(`herald: ${err.message}\n`);
    return 2;
  }
  // What Herald starts (workers, webhook commands) must not take the sockets as theirs.
  forgetActivation(process.env);
  if (sockets && config.workers > 1) {
    process.stderr.write(
      'herald: --workers (workers) cannot share sockets passed by systemd socket activation: ' +
        'run one process per socket unit, or start without the socket unit\n',
    );
    return 2;
  }
  if (config.workers > 1 && cluster.isPrimary) return supervise(config, warnings);
  // A worker's supervisor owns the pid file and tells humans where to connect.
  const alone = cluster.isPrimary;
  // The development setup gets a dashboard whose password is printed below; a worker could not share
  // it with the others, so it is for one process only.
  const dev = alone && config.workers === 1 ? await developmentDashboard(config) : undefined;
  const herald = new Herald(dev?.config ?? config, sockets ? { sockets } : {});
  exitOnUnhandledErrors(herald.logger);
  if (alone) logConfigWarnings(herald.logger, warnings);
  // Signals are handled before the start: a SIGTERM during or right after it is graceful too, and a
  // SIGHUP re-reads the certificate files (docs/operations.md, TLS); without TLS it keeps its default.
  const reload = () => void herald.reloadTls();
  if (config.tls) process.on('SIGHUP', reload);
  let resolve: (code: number) => void = () => {};
  const exited = new Promise<number>((r) => {
    resolve = r;
  });
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    // Ctrl-C reaches a worker twice: from the terminal and from its supervisor.
    if (stopping) return;
    stopping = true;
    process.off('SIGHUP', reload);
    herald.logger.info({ signal }, 'shutting down');
    // A stop that comes during the start waits for it, then stops what it opened.
    herald
      .stop()
      .then(async () => {
        if (alone && config.pidFile) await removePidFile(config.pidFile, herald.logger);
        resolve(0);
      })
      .catch((err) => {
        herald.logger.error({ err }, 'shutdown failed');
        resolve(1);
      });
  };
  // Before the start, not after: a worker's supervisor counts on every worker that listens to stop
  // gracefully on SIGTERM, and it may send it the moment the worker listens.
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);

  try {
    await herald.start();
  } catch (err) {
    herald.logger.fatal({ err }, 'could not start');
    // What the operator must change is said where a human reads it, not only in the JSON log.
    if (err instanceof BrokerUnusableError || err instanceof TlsError || err instanceof ListenError) {
      process.stderr.write(`herald: ${err.message}\n`);
    }
    return 1;
  }
  if (stopping) return exited;
  if (alone && config.pidFile) await writeFile(config.pidFile, `${process.pid}\n`);
  logListening(herald.logger, config, [herald.port, herald.apiPort, herald.rawSocketPort], {
    inherited: herald.inheritedAddress,
  });
  if (alone) printConnectHint(herald.config, herald.port, herald.apiPort, dev);
  return exited;
}

async function supervise(config: Readonly<Config>, warnings: readonly ConfigWarning[]): Promise<number> {
  const logger = createLogger(config);
  exitOnUnhandledErrors(logger);
  logConfigWarnings(logger, warnings);
  if (config.pidFile) await writeFile(config.pidFile, `${process.pid}\n`);
  const code = await superviseWorkers(
    config.workers,
    logger,
    (ports) => {
      // The public port first, then the admin listener's and the RawSocket listener's, when set.
      const [port, ...more] = ports;
      const apiPort = config.api.port === null ? undefined : more.shift();
      logListening(logger, config, [port!, apiPort, more.shift()], { workers: config.workers });
      printConnectHint(config, port!, apiPort);
    },
    {
      listeners: 1 + (config.api.port === null ? 0 : 1) + (config.wamp.rawsocket ? 1 : 0),
      forwardSighup: config.tls !== undefined,
    },
  );
  if (config.pidFile) await removePidFile(config.pidFile, logger);
  return code;
}

/** What a Crossbar.io node configuration sets that Herald leaves out, one warning each (docs/migrating.md). */
function logConfigWarnings(logger: Logger, warnings: readonly ConfigWarning[]): void {
  for (const { file, setting, reason } of warnings) {
    logger.warn({ file, setting }, `${setting}: ${reason}`);
  }
}

/** The pid file goes at exit; one already gone (removed by hand) is fine, anything else is said. */
async function removePidFile(file: string, logger: Logger): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    const gone = (err as NodeJS.ErrnoException).code === 'ENOENT';
    logger[gone ? 'debug' : 'warn']({ err, file }, 'pid file not removed');
  }
}

/**
 * Where the listeners are: the public port (`https://` with TLS), and the admin and RawSocket
 * listeners if any.
 */
function logListening(
  logger: Logger,
  config: Readonly<Config>,
  [port, apiPort, rawSocketPort]: [number, number | undefined, number | undefined],
  { workers, inherited }: { workers?: number; inherited?: AddressInfo | undefined } = {},
): void {
  const scheme = config.tls ? 'https' : 'http';
  const store = config.appStore;
  const apps = store.driver === 'config' ? config.apps.length : `${store.driver} table ${store.table}`;
  const host = inherited?.address ?? config.host;
  const fields = { host, port, apps, tls: config.tls !== undefined, inherited: inherited !== undefined };
  const where = `${scheme}://${host}:${port}`;
  const listening = inherited
    ? `Herald ${version()} listening on the socket passed by systemd, ${where}`
    : `Herald ${version()} listening on ${where}`;
  if (workers === undefined) logger.info(fields, listening);
  else logger.info({ ...fields, workers }, `${listening} with ${workers} workers`);
  if (apiPort !== undefined) {
    logger.info(
      { host: config.api.host, port: apiPort, public: config.api.public },
      `admin listener (HTTP API, /metrics) on http://${config.api.host}:${apiPort}`,
    );
  }
  const raw = config.wamp.rawsocket;
  if (raw && rawSocketPort !== undefined) {
    logger.info(
      { host: raw.host, port: rawSocketPort },
      `WAMP RawSocket listener on tcp://${raw.host}:${rawSocketPort}`,
    );
  }
}

/** A host to connect to for a listen address: the loopback one for "every address". */
/** The HTTP API's base URL: the admin listener when there is one, else the public port. */
function apiBase(config: Readonly<Config>, port: number, apiPort: number | undefined): string {
  if (apiPort !== undefined) return `http://${urlHost(config.api.host)}:${apiPort}`;
  return `${config.tls ? 'https' : 'http'}://${urlHost(config.host)}:${port}`;
}

function printConnectHint(
  config: Readonly<Config>,
  port: number,
  apiPort: number | undefined,
  dev?: DevelopmentDashboard,
): void {
  const dashboard = dashboardHint(config, port, apiPort, dev);
  // Apps in a database are the operator's: `herald apps list` shows them, not this hint. The
  // dashboard is the server's, wherever the apps are kept.
  if (config.appStore.driver !== 'config') {
    if (dashboard) process.stdout.write(`\n${dashboard}\n`);
    return;
  }
  const host = localHost(config.host);
  const app = config.apps[0]!;
  // pusher-js connects to `wssPort` with forceTLS, to `wsPort` without.
  const where = config.tls ? `wssPort: ${port}, forceTLS: true` : `wsPort: ${port}, forceTLS: false`;
  process.stdout.write(
    `\nConnect pusher-js with:\n  new Pusher('${app.key}', { wsHost: '${host}', ${where}, ` +
      `enabledTransports: ['ws'], cluster: '' })\n` +
      `HTTP API: ${apiBase(config, port, apiPort)}/apps/${app.id}/events (app id ${app.id}, key ${app.key})\n` +
      dashboard +
      '\n',
  );
}

/** Where the dashboard is, when it is on, and the development setup's credentials. */
function dashboardHint(
  config: Readonly<Config>,
  port: number,
  apiPort: number | undefined,
  dev: DevelopmentDashboard | undefined,
): string {
  if (!config.dashboard?.enabled) return '';
  const url = `${apiBase(config, port, apiPort)}/dashboard`;
  if (!dev) return `Dashboard: ${url}\n`;
  return `Dashboard: ${url} (name ${dev.name}, password ${dev.password}; a new one at each start)\n`;
}

async function trigger(config: Readonly<Config>, args: string[], values: Values): Promise<number> {
  const [channel, event, data] = args;
  if (channel === undefined || event === undefined || data === undefined || args.length > 3) {
    process.stderr.write(`herald trigger needs exactly <channel> <event> <data>\n\n${USAGE}\n`);
    return 2;
  }
  let app: { id: string; key: string; secret: string } = config.apps[0]!;
  if (config.appStore.driver !== 'config') {
    const [id, key, secret] = [values['app-id'], values['app-key'], values['app-secret']];
    if (id === undefined || key === undefined || secret === undefined) {
      process.stderr.write(
        `herald trigger: with appStore.driver "${config.appStore.driver}", name the app with --app-id, ` +
          '--app-key and --app-secret (herald apps show ID prints them)\n',
      );
      return 2;
    }
    app = { id, key, secret };
  }
  const base = new URL(values.url ?? apiBase(config, config.port, config.api.port ?? undefined));
  const path = `/apps/${encodeURIComponent(app.id)}/events`;
  const body = JSON.stringify({
    name: event,
    channels: [channel],
    data,
    ...(values['socket-id'] ? { socket_id: values['socket-id'] } : {}),
  });
  const query = new URLSearchParams(signRequest('POST', path, app, body));
  const url = new URL(`${path}?${query}`, base);
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  } catch (err) {
    process.stderr.write(`herald trigger: cannot reach ${base.origin}: ${(err as Error).message}\n`);
    return 1;
  }
  const text = await response.text();
  if (!response.ok) {
    process.stderr.write(`herald trigger: HTTP ${response.status} ${text}\n`);
    return 1;
  }
  process.stdout.write(`${text}\n`);
  return 0;
}
