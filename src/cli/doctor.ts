import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError, type ConfigOverrides, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { urlHost } from './address.js';
import { diagnose, type Target } from './doctor/checks.js';
import { oneLine } from './doctor/net.js';
import type { CheckResult, Outcome } from './doctor/verdicts.js';

/**
 * `herald doctor`: checks a running server from the outside, as an application would use it, and
 * prints one line per check with what to do about each problem (docs/operations.md, "herald doctor").
 */

const USAGE = `Usage:
  herald doctor [--url URL] [--app-id ID --app-key KEY --app-secret SECRET] [options]

Connects as a Pusher client, subscribes to a fresh channel, publishes an event through the signed
HTTP API and waits for it; measures the clock skew, checks the TLS certificate of an https:// URL and
whether the webhook receivers answer. Exit code 0: healthy (warnings allowed); 1: a check failed.

Options:
  --url URL         the server (http://, https://, ws:// or wss://host:port); default
                    http://127.0.0.1:<port> from the configuration, as herald start listens
  --config FILE     the server's JSON config: its port, pathPrefix, first app, timestamp window and
                    every app's webhook URLs
  --app-id ID, --app-key KEY, --app-secret SECRET
                    the app to use (default: the first app of the configuration)
  --webhook-url URL also check that this webhook receiver answers (repeatable)
  --ca FILE         also trust this CA certificate (PEM) for the server's TLS certificate
  --timeout SECONDS how long each step may take (default 5)
  -h, --help        this text`;

const OPTIONS = {
  config: { type: 'string' },
  url: { type: 'string' },
  'app-id': { type: 'string' },
  'app-key': { type: 'string' },
  'app-secret': { type: 'string' },
  'webhook-url': { type: 'string', multiple: true },
  ca: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const DEFAULT_TIMEOUT_SECONDS = 5;

const MARK: Record<Outcome, string> = { ok: '✓', warn: '!', fail: '✗', skip: '-' };

/** Where the verdict goes; the process's stdout and stderr unless a test captures them. */
export interface DoctorOutput {
  out(text: string): void;
  err(text: string): void;
}

const processOutput: DoctorOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

class UsageError extends Error {}

/** Runs `herald doctor <argv>`; resolves with the exit code: 0 healthy, 1 not, 2 bad usage. */
export async function doctor(argv: string[], output: DoctorOutput = processOutput): Promise<number> {
  let values: Values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false }));
  } catch (err) {
    output.err(`herald doctor: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    output.out(`${USAGE}\n`);
    return 0;
  }
  let target: Target;
  try {
    target = await targetOf(values);
  } catch (err) {
    if (!(err instanceof ConfigError || err instanceof UsageError)) throw err;
    output.err(`herald doctor: ${err.message}\n`);
    return 2;
  }
  output.out(`herald doctor: ${target.base.origin}, app ${oneLine(target.app.id, 60)}\n`);
  const counts: Record<Outcome, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for await (const line of diagnose(target)) {
    counts[line.outcome]++;
    output.out(`${render(line)}\n`);
  }
  if (counts.fail > 0) {
    output.out(`Not healthy: ${counts.fail} ${counts.fail === 1 ? 'check' : 'checks'} failed (✗ above).\n`);
    return 1;
  }
  const warnings = counts.warn === 1 ? '1 warning' : `${counts.warn} warnings`;
  output.out(counts.warn > 0 ? `Healthy, with ${warnings} (! above).\n` : 'Healthy.\n');
  return 0;
}

function render(line: CheckResult): string {
  return `${MARK[line.outcome]} ${line.name.padEnd(16)} ${line.detail}`;
}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

async function targetOf(values: Values): Promise<Target> {
  const file = values.config ? { file: values.config } : {};
  const given = { id: values['app-id'], key: values['app-key'], secret: values['app-secret'] };
  let config = await loadConfig(file);
  let app: { id: string; key: string; secret: string };
  if (config.appStore.driver === 'config') {
    // The flags complete the first app of the configuration, as they do for herald start.
    const overrides: ConfigOverrides = {};
    if (given.id !== undefined) overrides.appId = given.id;
    if (given.key !== undefined) overrides.appKey = given.key;
    if (given.secret !== undefined) overrides.appSecret = given.secret;
    config = await loadConfig({ ...file, overrides });
    app = config.apps[0]!;
  } else {
    // The apps are in a database the doctor does not read: the flags name one.
    if (given.id === undefined || given.key === undefined || given.secret === undefined) {
      throw new UsageError(
        `with appStore.driver "${config.appStore.driver}", name the app to check with --app-id, --app-key ` +
          'and --app-secret (herald apps show ID prints them)',
      );
    }
    app = { id: given.id, key: given.key, secret: given.secret };
  }
  const base = baseUrl(values.url, config);
  const socket = new URL(`${config.pathPrefix}/app/${encodeURIComponent(app.key)}`, base);
  socket.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  socket.search = 'protocol=7&client=herald-doctor&version=1.0.0&flash=false';
  const webhooks = new Set(config.apps.flatMap((a) => a.webhooks.map((w) => w.url)));
  for (const url of values['webhook-url'] ?? []) webhooks.add(webhookUrl(url));
  return {
    base,
    api: values.url === undefined ? (adminUrl(config) ?? base) : base,
    socket,
    app: { id: app.id, key: app.key, secret: app.secret },
    maxSkewSeconds: config.maxTimestampSkewSeconds,
    webhooks: [...webhooks],
    net: {
      timeoutMs: timeoutMs(values.timeout),
      ...(values.ca ? { ca: [await readCa(values.ca)] } : {}),
    },
  };
}

/**
 * `--url` as an origin (ws:// and wss:// are taken as http:// and https://), or where start listens:
 * https:// when the config has a certificate.
 */
function baseUrl(given: string | undefined, config: Readonly<Config>): URL {
  if (given === undefined) {
    return new URL(`${config.tls ? 'https' : 'http'}://${urlHost(config.host)}:${config.port}`);
  }
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(given)} is not a URL`);
  }
  const scheme = { 'http:': 'http', 'ws:': 'http', 'https:': 'https', 'wss:': 'https' }[url.protocol];
  if (!scheme)
    throw new UsageError(`--url must be http://, https://, ws:// or wss://, not ${url.protocol}//`);
  if (url.pathname !== '/' || url.search) {
    throw new UsageError('--url takes the server only (scheme://host:port); pathPrefix comes from --config');
  }
  return new URL(`${scheme}://${url.host}`);
}

/** The admin listener's origin (plain HTTP, docs/operations.md, Admin listener), when the config has one. */
function adminUrl(config: Readonly<Config>): URL | undefined {
  return config.api.port === null
    ? undefined
    : new URL(`http://${urlHost(config.api.host)}:${config.api.port}`);
}

function webhookUrl(given: string): string {
  try {
    const url = new URL(given);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.href;
  } catch {
    // Said below, with the value.
  }
  throw new UsageError(`--webhook-url ${JSON.stringify(given)} is not an http:// or https:// URL`);
}

function timeoutMs(given: string | undefined): number {
  if (given === undefined) return DEFAULT_TIMEOUT_SECONDS * 1000;
  const secondsGiven = Number(given);
  if (!(secondsGiven > 0 && secondsGiven <= 600)) {
    throw new UsageError(
      `--timeout must be a number of seconds above 0, at most 600, not ${JSON.stringify(given)}`,
    );
  }
  return Math.round(secondsGiven * 1000);
}

/** The PEM of `--ca`, checked to hold a certificate so that a wrong file is said at once. */
async function readCa(file: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--ca ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw new UsageError(`--ca ${file}: not a PEM certificate`);
  }
  return pem;
}
