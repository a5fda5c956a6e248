import { z } from 'zod';
import { HeraldError } from '../core/errors.js';
import { visibleText } from '../core/visible-text.js';
import { CROSSBAR_MALFORMED, crossbarConfig, isCrossbarNode, mixedWithCrossbar } from '../import/crossbar.js';
import { ImportError, Notes } from '../import/notes.js';
import { type ConfigFile, readConfigFile } from './file.js';
import { type Config, configSchema, DEFAULT_APP, webhookSchema } from './schema.js';
import { unwrap } from './schema-layers.js';

export const ERR_CONFIG_INVALID = 'ERR_CONFIG_INVALID';

/**
 * Refused configuration: every problem found, one per line, each naming its field. Control
 * characters (a key or a file name may hold any) are shown as `\uXXXX`, so that each problem stays
 * one line and writes nothing but text to a terminal.
 */
export class ConfigError extends HeraldError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    const lines = problems.map(visibleText);
    super(ERR_CONFIG_INVALID, `invalid configuration:\n  ${lines.join('\n  ')}`);
    this.problems = lines;
  }
}

type Json = Record<string, unknown>;

/** Settings given on the command line; each overrides the environment and the file. */
export interface ConfigOverrides {
  host?: string;
  port?: number | string;
  logLevel?: string;
  /** `--log-format`. */
  logFormat?: string;
  /** `--verbose`. */
  logFrames?: boolean;
  /** `--webhook-url`: each gets every event type of the first app, after the webhooks it already has. */
  webhookUrls?: readonly string[];
  pidFile?: string;
  workers?: number | string;
  appId?: string;
  appKey?: string;
  appSecret?: string;
  /** `--redis-url` / `--nats-url`: the cluster broker; the rest of `adapter` keeps its settings. */
  adapter?: { driver: 'redis' | 'nats'; url: string };
  /** `--ssl-cert`, `--ssl-key`, `--ssl-ca`, `--ssl-passphrase`: each replaces its field of `tls`. */
  tls?: { cert?: string; key?: string; ca?: string; passphrase?: string };
  /** `--api-host`, `--api-port`: each replaces its field of `api`. */
  api?: { host?: string; port?: number | string };
}

const ENV_PREFIX = 'HERALD_';
/** The first app's credentials, as `--app-id`, `--app-key`, `--app-secret` set them. */
export const APP_SHORTCUT_ENV = {
  id: 'HERALD_APP_ID',
  key: 'HERALD_APP_KEY',
  secret: 'HERALD_APP_SECRET',
} as const;

interface EnvEntry {
  name: string;
  path: string[];
  kind: 'string' | 'number' | 'boolean' | 'json';
}

const envName = (path: string[]) =>
  ENV_PREFIX + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');

/**
 * Environment variables derived from the schema: `adapter.url` → `HERALD_ADAPTER_URL`. Scalars are
 * parsed by type; arrays and maps (`HERALD_APPS`) take JSON.
 */
export function envEntries(schema: z.ZodType = configSchema, path: string[] = []): EnvEntry[] {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject) {
    return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([key, child]) =>
      envEntries(child, [...path, key]),
    );
  }
  if (s instanceof z.ZodDiscriminatedUnion) {
    // One variable per field of any variant: `adapter.url` is the redis and the nats variant's.
    const entries = new Map<string, EnvEntry>();
    for (const option of s.options as readonly z.ZodType[]) {
      for (const entry of envEntries(option, path))
        if (!entries.has(entry.name)) entries.set(entry.name, entry);
    }
    return [...entries.values()];
  }
  const kind =
    s instanceof z.ZodNumber
      ? 'number'
      : s instanceof z.ZodBoolean
        ? 'boolean'
        : s instanceof z.ZodString || s instanceof z.ZodEnum
          ? 'string'
          : 'json';
  return [{ name: envName(path), path, kind }];
}

function parseEnvValue(entry: EnvEntry, raw: string, problems: string[]): unknown {
  switch (entry.kind) {
    case 'number':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    case 'boolean':
      return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
    case 'json':
      try {
        return JSON.parse(raw);
      } catch {
        problems.push(`${entry.name}: not valid JSON`);
        return undefined;
      }
    default:
      return raw;
  }
}

function setPath(target: Json, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node[key] = next !== null && typeof next === 'object' && !Array.isArray(next) ? { ...next } : {};
    node = node[key] as Json;
  }
  node[path[path.length - 1]!] = value;
}

const formatPath = (path: PropertyKey[]) => (path.length ? path.map(String).join('.') : '(root)');

/**
 * Validates a plain object against the schema; throws `ConfigError` listing every problem. `where`
 * may add where a setting was written (` (herald.yaml, line 4)`).
 */
export function parseConfig(
  input: unknown,
  problems: string[] = [],
  where: (path: readonly PropertyKey[]) => string = () => '',
): Readonly<Config> {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
      for (const key of keys) {
        const path = key === undefined ? issue.path : [...issue.path, key];
        problems.push(`${formatPath(path)}: ${issue.message}${where(path)}`);
      }
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return deepFreeze(result.data);
}

/**
 * Builds the configuration: file (JSON, or YAML when named `.yaml` or `.yml`), then `HERALD_*`
 * environment, then command-line overrides, each overriding the one before. Validated once; the
 * result is frozen. A problem with a setting the file wrote names the file and the line.
 */
export async function loadConfig(
  options: {
    file?: string;
    env?: NodeJS.ProcessEnv;
    overrides?: ConfigOverrides;
    /** Receives what a Crossbar.io node configuration sets that is harmless to leave out. */
    warnings?: ConfigWarning[];
  } = {},
): Promise<Readonly<Config>> {
  const problems: string[] = [];
  const env = options.env ?? process.env;
  let file = options.file ? await readConfigFile(options.file, problems) : undefined;
  let raw: Json = file ? { ...file.settings } : {};
  if (file && isCrossbarNode(file.settings)) {
    raw = fromCrossbar(file, env, problems, options.warnings ?? []);
    // Problems with the settings made from it have no line of the file to point at.
    file = undefined;
  } else if (file) {
    const herald = mixedWithCrossbar(file.settings);
    const version = file.settings.version;
    if (Array.isArray(file.settings.workers) && version !== 2 && herald.length === 0) {
      problems.push(
        `${file.name}: a list of workers, as a Crossbar.io node configuration has, of version ` +
          `${JSON.stringify(version) ?? 'none'}: Herald reads version 2 (\`crossbar upgrade\` converts an older one)`,
      );
    } else if (herald.length > 0) {
      problems.push(
        `${file.name}: a Crossbar.io node configuration's list of workers with Herald's ` +
          `${herald.join(', ')}: keep Herald's settings in a file of their own, or start from the node configuration alone`,
      );
    }
  }
  /** Paths set by the environment and the flags: problems there are not the file's. */
  const elsewhere: PropertyKey[][] = [];
  const set = (path: PropertyKey[], value: unknown) => {
    setPath(raw, path.map(String), value);
    elsewhere.push(path);
  };

  for (const entry of envEntries()) {
    const value = env[entry.name];
    if (value === undefined || value === '') continue;
    const parsed = parseEnvValue(entry, value, problems);
    if (parsed !== undefined) set(entry.path, parsed);
  }

  const o = options.overrides ?? {};
  if (o.host !== undefined) set(['host'], o.host);
  if (o.port !== undefined) set(['port'], typeof o.port === 'string' ? parsePort(o.port) : o.port);
  if (o.logLevel !== undefined) set(['logLevel'], o.logLevel);
  if (o.logFormat !== undefined) set(['logFormat'], o.logFormat);
  if (o.logFrames !== undefined) set(['logFrames'], o.logFrames);
  if (o.pidFile !== undefined) set(['pidFile'], o.pidFile);
  if (o.workers !== undefined)
    set(['workers'], typeof o.workers === 'string' ? Number(o.workers) : o.workers);
  if (o.adapter !== undefined) {
    const adapter = raw.adapter !== null && typeof raw.adapter === 'object' ? (raw.adapter as Json) : {};
    raw.adapter = { ...adapter, ...o.adapter };
    elsewhere.push(['adapter', 'driver'], ['adapter', 'url']);
  }
  if (o.tls !== undefined) raw.tls = { ...objectAt(raw, 'tls'), ...o.tls };
  if (o.api !== undefined) {
    const { port, ...api } = o.api;
    raw.api = { ...objectAt(raw, 'api'), ...api };
    if (port !== undefined) (raw.api as Json).port = typeof port === 'string' ? parsePort(port) : port;
  }

  const shortcut = {
    id: o.appId ?? env[APP_SHORTCUT_ENV.id],
    key: o.appKey ?? env[APP_SHORTCUT_ENV.key],
    secret: o.appSecret ?? env[APP_SHORTCUT_ENV.secret],
  };
  const webhookUrls = (o.webhookUrls ?? []).filter((url) => {
    if (webhookSchema.shape.url.safeParse(url).success) return true;
    problems.push(`--webhook-url: ${JSON.stringify(url)} is not an http:// or https:// URL`);
    return false;
  });
  if (shortcut.id || shortcut.key || shortcut.secret || webhookUrls.length > 0) {
    const apps = Array.isArray(raw.apps) && raw.apps.length > 0 ? [...raw.apps] : [{ ...DEFAULT_APP }];
    const first = { ...(apps[0] as Json) };
    for (const field of ['id', 'key', 'secret'] as const) {
      if (shortcut[field]) {
        first[field] = shortcut[field];
        elsewhere.push(['apps', 0, field]);
      }
    }
    // Webhooks the file gave in a wrong shape are left for the schema to name.
    if (webhookUrls.length > 0 && (first.webhooks === undefined || Array.isArray(first.webhooks))) {
      const webhooks = (first.webhooks as unknown[] | undefined) ?? [];
      first.webhooks = [...webhooks, ...webhookUrls.map((url) => ({ url }))];
    }
    apps[0] = first;
    raw.apps = apps;
  }
  const store = objectAt(raw, 'appStore').driver;
  if ((store === 'postgres' || store === 'mysql') && raw.apps !== undefined) {
    problems.push(
      `apps: not served with appStore.driver "${store}", whose apps are in its table (neither are ` +
        '--app-id, --app-key, --app-secret, --webhook-url): add them with herald apps create (docs/apps.md)',
    );
  }
  return parseConfig(raw, problems, file ? (path) => fileLine(file, path, elsewhere) : undefined);
}

/** A setting of a Crossbar.io node configuration that Herald leaves out, harmlessly. */
export interface ConfigWarning {
  readonly file: string;
  /** The setting as the file writes it: `workers.0.transports.1.paths./`. */
  readonly setting: string;
  readonly reason: string;
}

/**
 * A Crossbar.io node configuration read through `herald import crossbar`'s mapping: each refusal is a
 * problem, each warning goes to `warnings`; `${NAME}` secrets come from `env`, as in Crossbar.
 */
function fromCrossbar(
  file: ConfigFile,
  env: NodeJS.ProcessEnv,
  problems: string[],
  warnings: ConfigWarning[],
): Json {
  const notes = new Notes(CROSSBAR_MALFORMED);
  let config: Json = {};
  try {
    config = crossbarConfig(file.settings, file.name, notes, env) as Json;
  } catch (err) {
    if (!(err instanceof ImportError)) throw err;
    problems.push(err.message);
  }
  for (const { setting, reason, kind } of notes.notes) {
    if (kind === 'refuse') problems.push(`${file.name} (Crossbar.io): ${setting}: ${reason}`);
    else warnings.push({ file: file.name, setting, reason });
  }
  return config;
}

/** ` (FILE, line N)` when the setting at `path` is the file's, not the environment's or a flag's. */
function fileLine(file: ConfigFile, path: readonly PropertyKey[], elsewhere: PropertyKey[][]): string {
  const overlaps = (other: PropertyKey[]) =>
    other.every((key, i) => i >= path.length || String(key) === String(path[i]));
  if (path.length === 0 || elsewhere.some(overlaps)) return '';
  const line = file.line(path);
  return line === undefined ? '' : ` (${file.name}, line ${line})`;
}

/** The object at `raw[key]` (from the file or the environment), or an empty one. */
function objectAt(raw: Json, key: string): Json {
  const value = raw[key];
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

function parsePort(value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
