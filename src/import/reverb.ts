import type { z } from 'zod';
import type { appSchema, ConfigInput } from '../config/schema.js';
import { readEnvFile } from './env-file.js';
import { boolean, ImportError, type Notes, pathPrefix } from './notes.js';
import { Settings } from './settings.js';

/**
 * Laravel Reverb's `.env` (the `REVERB_*` variables `config/reverb.php` reads, and `REDIS_*` when
 * scaling is on) to a Herald configuration. `config/reverb.php` itself is PHP and is not read: what
 * it sets beyond the variables (more apps, `allowed_origins`, TLS options) is mapped by hand
 * (docs/migrating.md). Variables of the rest of the Laravel app are none of Reverb's and are skipped.
 */
export function importReverb(text: string, file: string, notes: Notes): ConfigInput {
  const env = readEnvFile(text, file);
  const scales = boolean(laravelEnv(env.values.get('REVERB_SCALING_ENABLED'))) === true;
  const leaves = new Map<string, unknown>();
  for (const [name, raw] of env.values) {
    if (!name.startsWith('REVERB_') && !(scales && SCALING_REDIS.includes(name))) continue;
    const value = laravelEnv(raw);
    if (value !== undefined) leaves.set(name, value);
    if (env.unresolved.has(name))
      notes.warn(name, 'refers to a variable the file does not set; kept as written');
  }
  const s = new Settings(leaves, notes);
  const missing = ['REVERB_APP_ID', 'REVERB_APP_KEY', 'REVERB_APP_SECRET'].filter((n) => !s.string(n));
  if (missing.length > 0) {
    throw new ImportError(
      `${file}: no ${missing.join(', ')}: not the .env of a Laravel app that runs Reverb`,
    );
  }
  const app: z.input<typeof appSchema> = {
    id: s.string('REVERB_APP_ID')!,
    key: s.string('REVERB_APP_KEY')!,
    secret: s.string('REVERB_APP_SECRET')!,
    clientEvents: clientEvents(s),
  };
  for (const field of ['id', 'key', 'secret'] as const) {
    if (app[field].length > 255)
      throw new ImportError(`${file}: REVERB_APP_${field.toUpperCase()} is longer than 255 characters`);
  }
  const maxConnections = s.integer('REVERB_APP_MAX_CONNECTIONS', 1);
  if (maxConnections !== undefined) app.maxConnections = maxConnections;

  const config: ConfigInput = {};
  const host = s.string('REVERB_SERVER_HOST');
  if (host) config.host = host;
  // Reverb listens on 0.0.0.0:8080 unless told otherwise; Herald's own default port is 6001.
  config.port = s.integer('REVERB_SERVER_PORT', 0, 65535) ?? 8080;
  const path = s.string('REVERB_SERVER_PATH');
  if (path !== undefined) {
    const prefix = pathPrefix(path);
    if (prefix === undefined) s.warn('REVERB_SERVER_PATH', `"${path}" is not a path prefix; left out`);
    else if (prefix !== '') config.pathPrefix = prefix;
  }
  const activity = s.integer('REVERB_APP_ACTIVITY_TIMEOUT', 1);
  if (activity !== undefined) config.activityTimeoutSeconds = activity;
  const message = s.integer('REVERB_APP_MAX_MESSAGE_SIZE', 1);
  if (message !== undefined) config.maxMessageBytes = message;
  const request = s.integer('REVERB_MAX_REQUEST_SIZE', 1);
  if (request !== undefined) config.maxRequestBodyBytes = request;
  if (s.boolean('REVERB_SCALING_ENABLED')) config.adapter = scaling(s);
  config.apps = [app];

  for (const name of ['REVERB_HOST', 'REVERB_PORT', 'REVERB_SCHEME']) {
    s.drop(name, 'where the Laravel app and Echo reach the server: keep it, pointed at Herald');
  }
  s.drop(
    'REVERB_APP_PING_INTERVAL',
    'Herald pings a client that was silent for activityTimeoutSeconds and closes it pongTimeoutSeconds later',
  );
  const server = s.string('REVERB_SERVER');
  if (server !== undefined && server !== 'reverb') s.warn('REVERB_SERVER', 'Herald has one server');
  rateLimiting(s);
  s.warnRest((name) => reasonFor(name));
  return config;
}

/** The `REDIS_*` variables `config/reverb.php` reads for scaling; the others are the Laravel app's. */
const SCALING_REDIS = [
  'REDIS_URL',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_USERNAME',
  'REDIS_PASSWORD',
  'REDIS_DB',
  'REDIS_TIMEOUT',
];

/** A value as Laravel's `env()` reads it: `null` and `(null)` are unset, `empty` and `(empty)` are ''. */
function laravelEnv(raw: string | undefined): string | undefined {
  const v = raw?.trim().toLowerCase();
  if (v === undefined || v === 'null' || v === '(null)') return undefined;
  if (v === 'empty' || v === '(empty)') return '';
  return raw;
}

/**
 * `accept_client_events_from`: `members` (Reverb's default: clients subscribed to the channel), `all`
 * or `none`. Herald accepts client events from subscribers of private and presence channels, so
 * Echo's `whisper` works as it did unless Reverb refused client events.
 */
function clientEvents(s: Settings): boolean {
  const from = s.string('REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM')?.toLowerCase() ?? 'members';
  if (from === 'none') return false;
  if (from !== 'members') {
    s.warn(
      'REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM',
      `"${from}": Herald accepts client events from subscribers of private and presence channels only`,
    );
  }
  return true;
}

/** Reverb's Redis scaling: `REDIS_URL`, or `REDIS_HOST`, `REDIS_PORT`, credentials and `REDIS_DB`. */
function scaling(s: Settings): NonNullable<ConfigInput['adapter']> {
  const channel = s.string('REVERB_SCALING_CHANNEL');
  const url = s.string('REDIS_URL');
  const host = s.string('REDIS_HOST') ?? '127.0.0.1';
  const port = s.integer('REDIS_PORT', 1, 65535) ?? 6379;
  const db = s.integer('REDIS_DB', 0) ?? 0;
  const user = s.string('REDIS_USERNAME');
  const password = s.string('REDIS_PASSWORD');
  s.drop('REDIS_TIMEOUT', "Herald's Redis connection timeout is fixed");
  const adapter: NonNullable<ConfigInput['adapter']> = { driver: 'redis', url: '' };
  if (url && /^rediss?:\/\//.test(url)) {
    adapter.url = url;
  } else {
    if (url)
      s.warn('REDIS_URL', `"${url}" is not a redis:// or rediss:// URL; REDIS_HOST and REDIS_PORT used`);
    const validHost = /^[A-Za-z0-9._-]+$/.test(host) ? host : '127.0.0.1';
    if (validHost !== host) s.notes.invalid('REDIS_HOST', host, 'a host name or address');
    const enc = encodeURIComponent;
    const credentials = password ? `${enc(user ?? '')}:${enc(password)}@` : user ? `${enc(user)}@` : '';
    adapter.url = `redis://${credentials}${validHost}:${port}${db === 0 ? '' : `/${db}`}`;
  }
  // The channel separates Reverb clusters sharing one Redis, as adapter.prefix separates Herald's.
  if (channel && channel !== 'reverb') adapter.prefix = channel;
  return adapter;
}

function rateLimiting(s: Settings): void {
  const names = [
    'REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS',
    'REVERB_APP_RATE_LIMIT_DECAY_SECONDS',
    'REVERB_APP_RATE_LIMIT_TERMINATE',
  ];
  if (!s.boolean('REVERB_APP_RATE_LIMITING_ENABLED')) {
    for (const name of names) s.drop(name, 'used only with REVERB_APP_RATE_LIMITING_ENABLED');
    return;
  }
  s.warn(
    'REVERB_APP_RATE_LIMITING_ENABLED',
    'Herald limits client events per connection (maxClientEventsPerSecond, 10 by default), not every message',
  );
  for (const name of names)
    s.drop(name, 'Herald limits client events per connection with maxClientEventsPerSecond');
}

function reasonFor(name: string): string {
  if (name === 'REVERB_PULSE_INGEST_INTERVAL' || name === 'REVERB_TELESCOPE_INGEST_INTERVAL') {
    return 'Herald reports to Prometheus (/metrics) and its dashboard, not to Laravel Pulse or Telescope';
  }
  if (name === 'REVERB_SCALING_CHANNEL') return 'used only with REVERB_SCALING_ENABLED';
  return 'not a variable config/reverb.php reads; left out';
}
