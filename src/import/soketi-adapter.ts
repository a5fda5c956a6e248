import type { ConfigInput } from '../config/schema.js';
import { integer, isObject, own, text } from './notes.js';
import type { Settings } from './settings.js';

/**
 * soketi's `adapter` (and the `database.redis` connection it uses) and its SQL app managers (with
 * `database.mysql` / `database.postgres`), as Herald's `adapter` and `appStore` with their URLs.
 * Connection defaults are soketi's own (`src/server.ts`), so that an option left unset means what it
 * meant to soketi.
 */

type AdapterInput = NonNullable<ConfigInput['adapter']>;
type AppStoreInput = NonNullable<ConfigInput['appStore']>;

export function soketiAdapter(s: Settings, driver: string): AdapterInput | undefined {
  let adapter: AdapterInput | undefined;
  switch (driver) {
    case 'local':
      return undefined;
    case 'redis': {
      adapter = { driver: 'redis', url: redisUrl(s) };
      const prefix = s.string('adapter.redis.prefix');
      if (prefix) adapter.prefix = prefix;
      s.drop(
        'adapter.redis.redisPubOptions',
        'ioredis options: what Herald needs (credentials, db, TLS with rediss://) is in adapter.url',
      );
      s.drop(
        'adapter.redis.redisSubOptions',
        'ioredis options: what Herald needs (credentials, db, TLS with rediss://) is in adapter.url',
      );
      s.drop(
        'adapter.redis.shardMode',
        'Herald publishes with PUBLISH, in a Redis Cluster too (redis+cluster://)',
      );
      break;
    }
    case 'nats': {
      adapter = { driver: 'nats', url: natsUrl(s) };
      const prefix = s.string('adapter.nats.prefix');
      if (prefix) adapter.prefix = prefix;
      for (const field of ['user', 'pass', 'token', 'credentials']) {
        s.drop(
          `adapter.nats.${field}`,
          "Herald's NATS connection carries no credentials: the server must let it in without them",
        );
      }
      s.drop('adapter.nats.timeout', "Herald's NATS connection timeout is fixed");
      s.drop('adapter.nats.nodesNumber', 'Herald knows the live nodes from their heartbeats');
      break;
    }
    case 'cluster':
      s.warn(
        'adapter.driver',
        '"cluster" finds the processes of one machine over UDP: Herald runs them with `workers`, which ' +
          'needs adapter.driver "redis" or "nats"; one process left',
      );
      return undefined;
    default:
      s.warn('adapter.driver', `"${driver}" is not a soketi adapter; one process left`);
      return undefined;
  }
  const timeout = s.integer(`adapter.${driver}.requestsTimeout`, 1);
  if (timeout !== undefined) adapter.requestTimeoutMs = timeout;
  return adapter;
}

/** `database.redis` as a Redis URL: a server, Sentinel (`sentinels`) or a Redis Cluster (`clusterMode`). */
function redisUrl(s: Settings): string {
  const host = hostOf(s, 'database.redis.host') ?? '127.0.0.1';
  const port = s.integer('database.redis.port', 1, 65535) ?? 6379;
  const db = s.integer('database.redis.db', 0) ?? 0;
  const user = s.string('database.redis.username');
  const password = s.string('database.redis.password');
  const credentials = password
    ? `${encode(user ?? '')}:${encode(password)}@`
    : user
      ? `${encode(user)}@`
      : '';
  const sentinels = hostList(s, 'database.redis.sentinels', 26379);
  const name = s.string('database.redis.name') ?? 'mymaster';
  const sentinelPassword = s.string('database.redis.sentinelPassword');
  const clusterNodes = hostList(s, 'database.redis.clusterNodes', 6379);
  if (s.boolean('adapter.redis.clusterMode')) {
    return `redis+cluster://${credentials}${(clusterNodes.length ? clusterNodes : [`${host}:${port}`]).join(',')}`;
  }
  if (sentinels.length > 0) {
    const query = new URLSearchParams();
    if (db !== 0) query.set('db', String(db));
    if (sentinelPassword) query.set('sentinelPassword', sentinelPassword);
    const q = query.toString() ? `?${query}` : '';
    return `redis+sentinel://${credentials}${sentinels.join(',')}/${encode(name)}${q}`;
  }
  return `redis://${credentials}${host}:${port}${db === 0 ? '' : `/${db}`}`;
}

/** `adapter.nats.servers` (soketi's default `127.0.0.1:4222`) as Herald's comma-separated URL. */
function natsUrl(s: Settings): string {
  const value = s.take('adapter.nats.servers');
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined;
  const servers: string[] = [];
  for (const entry of list ?? []) {
    const server = text(entry)?.trim();
    if (server && /^((nats|tls|ws|wss):\/\/)?[^\s,/@]+(:\d{1,5})?$/.test(server)) {
      servers.push(server.includes('://') ? server : `nats://${server}`);
    } else {
      s.notes.invalid(s.label('adapter.nats.servers'), entry, 'a NATS server address');
    }
  }
  if (value !== undefined && list === undefined) {
    s.notes.invalid(s.label('adapter.nats.servers'), value, 'a list of NATS servers');
  }
  return servers.length > 0 ? servers.join(',') : 'nats://127.0.0.1:4222';
}

/**
 * soketi's SQL app managers. Herald reads its own table (`herald apps migrate` creates it): soketi's
 * `apps` table has other columns, so the apps are copied over with `herald apps create`.
 */
export function soketiAppStore(s: Settings, driver: string): AppStoreInput | undefined {
  if (driver === 'array') return undefined;
  if (driver !== 'mysql' && driver !== 'postgres') {
    s.warn(
      'appManager.driver',
      `"${driver}": Herald keeps apps in its configuration, PostgreSQL or MySQL (docs/apps.md); ` +
        "soketi's default app (app-id, app-key, app-secret) left in its place",
    );
    return undefined;
  }
  const defaults = driver === 'mysql' ? { port: 3306, user: 'root' } : { port: 5432, user: 'postgres' };
  const base = `database.${driver}`;
  const host = hostOf(s, `${base}.host`) ?? '127.0.0.1';
  const port = s.integer(`${base}.port`, 1, 65535) ?? defaults.port;
  const user = s.string(`${base}.user`) ?? defaults.user;
  const password = s.string(`${base}.password`) ?? 'password';
  const database = s.string(`${base}.database`) ?? 'main';
  const url = `${driver}://${encode(user)}:${encode(password)}@${host}:${port}/${encode(database)}`;
  const store: Extract<AppStoreInput, { driver: 'mysql' | 'postgres' }> = { driver, url };
  s.drop(
    `appManager.${driver}.table`,
    "soketi's table has other columns: Herald reads its own (appStore.table, default herald_apps), made " +
      'by herald apps migrate; copy each app over with herald apps create (docs/migrating.md)',
  );
  if (s.boolean('databasePooling.enabled')) {
    const max = s.integer('databasePooling.max', 1);
    if (max !== undefined) store.poolSize = max;
    s.drop('databasePooling.min', 'Herald opens connections as they are needed, up to appStore.poolSize');
  }
  if (s.boolean('appManager.cache.enabled')) {
    const ttl = s.integer('appManager.cache.ttl', -1);
    if (ttl !== undefined && ttl > 0) store.cacheTtlMs = ttl * 1000;
  }
  return store;
}

/** A host name or address fit for a URL (IPv6 in brackets); anything else is a warning. */
function hostOf(s: Settings, path: string): string | undefined {
  const host = s.string(path);
  if (host === undefined) return undefined;
  const h = hostText(host);
  if (h === undefined) s.notes.invalid(s.label(path), host, 'a host name or address');
  return h;
}

function hostText(host: string): string | undefined {
  if (/^[A-Za-z0-9._-]+$/.test(host)) return host;
  const v6 = /^\[?([0-9A-Fa-f:.]+)\]?$/.exec(host);
  return v6?.[1]?.includes(':') ? `[${v6[1]}]` : undefined;
}

/** `[{host, port}]` or `["host:port"]` as `host:port` texts. */
function hostList(s: Settings, path: string, defaultPort: number): string[] {
  const value = s.take(path);
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    s.notes.invalid(s.label(path), value, 'a list of hosts');
    return [];
  }
  const hosts: string[] = [];
  for (const entry of value) {
    const [rawHost, rawPort] = isObject(entry)
      ? [text(own(entry, 'host')), own(entry, 'port') ?? defaultPort]
      : (text(entry)?.split(/:(?=\d+$)/) ?? []);
    const host = rawHost === undefined ? undefined : hostText(rawHost);
    const port = integer(rawPort ?? defaultPort);
    if (host === undefined || port === undefined || port < 1 || port > 65535) {
      s.notes.invalid(s.label(path), entry, 'a host and port');
    } else {
      hosts.push(`${host}:${port}`);
    }
  }
  return hosts;
}

const encode = encodeURIComponent;
