import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type Logger, pino } from 'pino';
import { BrokerUnusableError } from '../adapters/parts.js';
import { ConfigError, type ConfigOverrides, loadConfig } from '../config/load.js';
import { type Config, configSchema } from '../config/schema.js';
import { signRequest } from '../protocol/pusher/auth.js';
import { Herald } from '../server.js';
import { exitOnUnhandledErrors } from './fatal.js';
import { superviseWorkers } from './workers.js';

/** What an empty configuration holds, for the defaults the usage text names. */
const DEFAULTS = configSchema.parse({});
const DEFAULT_APP = DEFAULTS.apps[0]!;

const USAGE = `Usage:
  herald start [options]                        start the server
  herald trigger <channel> <event> <data> [options] [--url URL] [--socket-id ID]
                                                publish an event through the HTTP API

Options:
  --config FILE     JSON config file
  --host HOST       listen address (default ${DEFAULTS.host})
  --port PORT       listen port (default ${DEFAULTS.port})
  --app-id ID, --app-key KEY, --app-secret SECRET
                    credentials of the first app (default ${DEFAULT_APP.id} / ${DEFAULT_APP.key} / ${DEFAULT_APP.secret})
  --verbose         log at debug level
  --pid-file FILE   write the process id here while running
  --redis-url URL   join a cluster through Redis (adapter.driver redis, adapter.url URL)
  --nats-url URL    join a cluster through NATS with JetStream (adapter.driver nats, adapter.url URL)
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
  'pid-file': { type: 'string' },
  'redis-url': { type: 'string' },
  'nats-url': { type: 'string' },
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
  if (values.verbose) o.logLevel = 'debug';
  if (values['redis-url'] !== undefined) o.adapter = { driver: 'redis', url: values['redis-url'] };
  if (values['nats-url'] !== undefined) o.adapter = { driver: 'nats', url: values['nats-url'] };
  return o;
}

export async function main(argv: string[]): Promise<number> {
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
  try {
    config = await loadConfig({
      ...(values.config ? { file: values.config } : {}),
      overrides: overrides(values),
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`herald: ${err.message}\n`);
    return 2;
  }
  switch (command) {
    case 'start':
      return start(config);
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

async function start(config: Readonly<Config>): Promise<number> {
  if (config.workers > 1 && cluster.isPrimary) return supervise(config);
  // A worker's supervisor owns the pid file and tells humans where to connect.
  const alone = cluster.isPrimary;
  const herald = new Herald(config);
  exitOnUnhandledErrors(herald.logger);

  let resolve: (code: number) => void = () => {};
  const exited = new Promise<number>((r) => {
    resolve = r;
  });
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    // Ctrl-C reaches a worker twice: from the terminal and from its supervisor.
    if (stopping) return;
    stopping = true;
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
    if (err instanceof BrokerUnusableError) process.stderr.write(`herald: ${err.message}\n`);
    return 1;
  }
  if (stopping) return exited;
  if (alone && config.pidFile) await writeFile(config.pidFile, `${process.pid}\n`);
  herald.logger.info(
    { host: config.host, port: herald.port, apps: config.apps.length },
    `Herald ${version()} listening on http://${config.host}:${herald.port}`,
  );
  if (alone) printConnectHint(config, herald.port);
  return exited;
}

async function supervise(config: Readonly<Config>): Promise<number> {
  const logger = pino({ level: config.logLevel });
  exitOnUnhandledErrors(logger);
  if (config.pidFile) await writeFile(config.pidFile, `${process.pid}\n`);
  const code = await superviseWorkers(config.workers, logger, (port) => {
    logger.info(
      { host: config.host, port, apps: config.apps.length, workers: config.workers },
      `Herald ${version()} listening on http://${config.host}:${port} with ${config.workers} workers`,
    );
    printConnectHint(config, port);
  });
  if (config.pidFile) await removePidFile(config.pidFile, logger);
  return code;
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

function printConnectHint(config: Readonly<Config>, port: number): void {
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const app = config.apps[0]!;
  process.stdout.write(
    `\nConnect pusher-js with:\n  new Pusher('${app.key}', { wsHost: '${host}', wsPort: ${port}, ` +
      `forceTLS: false, enabledTransports: ['ws'], cluster: '' })\n` +
      `HTTP API: http://${host}:${port}/apps/${app.id}/events (app id ${app.id}, key ${app.key})\n\n`,
  );
}

async function trigger(config: Readonly<Config>, args: string[], values: Values): Promise<number> {
  const [channel, event, data] = args;
  if (channel === undefined || event === undefined || data === undefined || args.length > 3) {
    process.stderr.write(`herald trigger needs exactly <channel> <event> <data>\n\n${USAGE}\n`);
    return 2;
  }
  const app = config.apps[0]!;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const base = new URL(values.url ?? `http://${host}:${config.port}`);
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
