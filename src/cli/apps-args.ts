import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseDuration } from '../apps/manage.js';
import { appSchema } from '../config/schema.js';
import { layers, unwrap } from '../config/schema-layers.js';

/**
 * The command line of `herald apps`, read into what to do; pure, so that every usage error is tested
 * without a store. Usage errors throw `AppsUsageError` (exit code 2).
 */

export class AppsUsageError extends Error {}

export const APPS_COMMANDS = [
  'list',
  'show',
  'create',
  'update',
  'enable',
  'disable',
  'delete',
  'rotate-secret',
  'migrate',
] as const;

export type AppsCommand = (typeof APPS_COMMANDS)[number];

/** The commands that name an app (`herald apps show ID`). */
const TAKES_ID = new Set<AppsCommand>(['show', 'update', 'enable', 'disable', 'delete', 'rotate-secret']);

/** How long the secret before a rotation stays valid when `--grace` is not given. */
export const DEFAULT_GRACE = '10m';

/** The environment variables of remote mode, beside `--api-url` and `--api-token`. */
export const API_URL_ENV = 'HERALD_API_URL';
/** The same variable as `api.token` of the server's configuration, so one environment serves both. */
export const API_TOKEN_ENV = 'HERALD_API_TOKEN';

const OPTIONS = {
  config: { type: 'string' },
  json: { type: 'boolean' },
  set: { type: 'string', multiple: true },
  id: { type: 'string' },
  key: { type: 'string' },
  secret: { type: 'string' },
  grace: { type: 'string' },
  'api-url': { type: 'string' },
  'api-token': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A running Herald's app management API, which remote mode sends the commands to. */
export interface RemoteTarget {
  url: URL;
  token: string;
}

export type AppsRequest =
  | { command: 'help' }
  | {
      command: AppsCommand;
      /** The app the command names; for `create`, the `--id` given, if any. */
      id: string | undefined;
      /** App fields from `--set` (and `--id`, `--key`, `--secret` for `create`). */
      fields: Record<string, unknown>;
      /** `rotate-secret`: how long the old secret stays valid, in milliseconds. */
      graceMs: number;
      json: boolean;
      /** `--config`: the file the direct mode loads, as `herald start` does. */
      config: string | undefined;
      /** Set in remote mode (`--api-url`); the config is then not read. */
      remote: RemoteTarget | undefined;
    };

/** Reads `herald apps <argv>`; `env` gives `HERALD_API_URL` and `HERALD_API_TOKEN`. */
export function parseAppsArgs(argv: readonly string[], env: NodeJS.ProcessEnv): AppsRequest {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true });
  } catch (err) {
    throw new AppsUsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [name, ...rest] = positionals;
  if (values.help || name === 'help') return { command: 'help' };
  if (name === undefined) throw new AppsUsageError('a command is needed');
  if (!(APPS_COMMANDS as readonly string[]).includes(name)) {
    throw new AppsUsageError(`unknown command "${name}"`);
  }
  const command = name as AppsCommand;

  const takesId = TAKES_ID.has(command);
  if (takesId && rest.length === 0) throw new AppsUsageError(`${command} needs the id of an app`);
  const extra = takesId ? rest.slice(1) : rest;
  if (extra.length > 0) throw new AppsUsageError(`${command}: unexpected ${JSON.stringify(extra[0])}`);

  const only = (option: keyof typeof OPTIONS, commands: AppsCommand[]) => {
    if (values[option] !== undefined && !commands.includes(command)) {
      throw new AppsUsageError(`--${option} is for ${commands.join(' and ')}, not ${command}`);
    }
  };
  only('set', ['create', 'update']);
  only('id', ['create']);
  only('key', ['create']);
  only('secret', ['create']);
  only('grace', ['rotate-secret']);
  if (command === 'update' && values.set === undefined) {
    throw new AppsUsageError('update needs at least one --set FIELD=VALUE');
  }

  const fields = parseSets(values.set ?? []);
  for (const field of ['id', 'key', 'secret'] as const) {
    const given = values[field];
    if (given === undefined) continue;
    if (Object.hasOwn(fields, field)) throw new AppsUsageError(`--${field} and --set ${field}=… both given`);
    fields[field] = given;
  }

  return {
    command,
    id: takesId ? rest[0] : typeof fields.id === 'string' ? fields.id : undefined,
    fields,
    graceMs: parseGrace(values.grace ?? DEFAULT_GRACE),
    json: values.json === true,
    config: values.config,
    remote: remoteTarget(command, values, env),
  };
}

/**
 * `--set FIELD=VALUE`s as app fields. VALUE is JSON when it parses as JSON (`100`, `true`, `null`,
 * `[{"url":"https://x"}]`, `"007"`) and the text itself otherwise (`https://x`, `abc`); a text field
 * (`key`, `secret`) takes the text as it is (`key=1234` is the key "1234"), unless it is a JSON string
 * or `null` where the field may be null. The app schema judges the result, so an unknown FIELD is
 * refused with the schema's words.
 */
export function parseSets(entries: readonly string[]): Record<string, unknown> {
  // A Map, then own properties: a FIELD named `__proto__` stays a field the schema refuses.
  const fields = new Map<string, unknown>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new AppsUsageError(`--set takes FIELD=VALUE, not ${JSON.stringify(entry)}`);
    const field = entry.slice(0, eq);
    if (fields.has(field)) throw new AppsUsageError(`--set ${field} given twice`);
    const text = entry.slice(eq + 1);
    fields.set(field, isTextField(field) ? textValue(field, text) : setValue(text));
  }
  return Object.fromEntries(fields);
}

/** Whether the app field holds text (a string, nullable or not). */
function isTextField(field: string): boolean {
  const schema = Object.hasOwn(appSchema.shape, field)
    ? (appSchema.shape as Record<string, z.ZodType>)[field]
    : undefined;
  return schema !== undefined && unwrap(schema) instanceof z.ZodString;
}

/** VALUE of `--set` for a text field: a JSON string unquoted, `null` where the field may be null, else the text. */
function textValue(field: string, text: string): unknown {
  if (text.startsWith('"')) return setValue(text);
  const nullable = layers((appSchema.shape as Record<string, z.ZodType>)[field]!).some(
    (s) => s instanceof z.ZodNullable,
  );
  return nullable && text === 'null' ? null : text;
}

/** VALUE of `--set`: JSON when it parses as JSON, the text otherwise. */
export function setValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON: a plain string such as a URL or a key, which is what the text means.
    return text;
  }
}

/** `--grace`: a duration (`10m`, `90s`, `2h`, `1d`, `500ms`, `0`) in milliseconds. */
export function parseGrace(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) {
    throw new AppsUsageError(
      `--grace takes a duration such as 10m, 90s, 2h or 0, not ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

function remoteTarget(
  command: AppsCommand,
  values: { config?: string | undefined; 'api-url'?: string | undefined; 'api-token'?: string | undefined },
  env: NodeJS.ProcessEnv,
): RemoteTarget | undefined {
  const url = values['api-url'] ?? nonEmpty(env[API_URL_ENV]);
  if (url === undefined) {
    if (values['api-token'] !== undefined) throw new AppsUsageError('--api-token goes with --api-url');
    return undefined;
  }
  const from = values['api-url'] !== undefined ? '--api-url' : API_URL_ENV;
  if (command === 'migrate') {
    throw new AppsUsageError(
      `migrate works on the database itself, not through a server: run it without ${from}, with the config that names the database`,
    );
  }
  if (values.config !== undefined) {
    throw new AppsUsageError(
      `--config and ${from} exclude each other: through a server, its own configuration names the store`,
    );
  }
  const token = values['api-token'] ?? nonEmpty(env[API_TOKEN_ENV]);
  if (token === undefined) {
    throw new AppsUsageError(`${from} needs --api-token (or ${API_TOKEN_ENV}): the server's api.token`);
  }
  return { url: apiUrl(url, from), token };
}

const nonEmpty = (text: string | undefined) => (text === undefined || text === '' ? undefined : text);

/** The admin listener's URL: http:// or https://, perhaps with a path a proxy serves it under. */
function apiUrl(text: string, from: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AppsUsageError(`${from} ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AppsUsageError(`${from} must be http:// or https://, not ${url.protocol}//`);
  }
  if (url.search || url.hash) throw new AppsUsageError(`${from} takes no query or fragment`);
  return url;
}
