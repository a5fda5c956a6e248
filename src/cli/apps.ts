import { type Logger, pino } from 'pino';
import { AppInputError, AppManager } from '../apps/manage.js';
import { openAppCatalog } from '../apps/open.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import {
  type App,
  type AppCatalog,
  AppConflict,
  AppStoreReadOnly,
  AppStoreUnavailable,
} from '../core/apps/app.js';
import { visibleText } from '../core/visible-text.js';
import { logFormat } from '../log/logger.js';
import { prettyDestination } from '../log/pretty.js';
import { API_TOKEN_ENV, API_URL_ENV, type AppsRequest, AppsUsageError, parseAppsArgs } from './apps-args.js';
import { appDetails, appTable } from './apps-output.js';
import { AppApiError, type AppsBackend, RemoteAppManager } from './apps-remote.js';

/**
 * `herald apps`: lists, shows, creates, changes, switches on and off, deletes apps and rotates their
 * secrets in the store the configuration names (docs/apps.md, "herald apps"), or through a running
 * Herald's app management API with `--api-url`. Everything it does to an app is `AppManager`'s.
 */

const USAGE = `Usage:
  herald apps list                                  the apps: id, key, enabled, maxConnections, webhooks
  herald apps show ID                               every field of one app, secret included
  herald apps create [--id ID] [--key KEY] [--secret SECRET] [--set FIELD=VALUE]...
                                                    a new app; credentials not given are generated
  herald apps update ID --set FIELD=VALUE...        change fields of an app
  herald apps enable ID | disable ID | delete ID
  herald apps rotate-secret ID [--grace DURATION]   a new secret; the old one stays valid for the grace
  herald apps migrate                               create or upgrade the table of apps

The store is the one the configuration names (appStore): a PostgreSQL or MySQL table, or the config
file's apps, which can be listed and shown only. Nodes see a change to the table within
appStore.cacheTtlMs; through a running Herald (--api-url), every node sees it at once.

Options:
  --config FILE        the server's config file (YAML when named .yaml or .yml, JSON otherwise);
                       HERALD_* variables apply, as for herald start
  --json               print JSON on standard output: the app (an array of apps for list)
  --set FIELD=VALUE    an app field as docs/configuration.md (Apps) names it, e.g. maxConnections=100,
                       clientEvents=true, 'webhooks=[{"url":"https://example.com/hook"}]'; VALUE is
                       JSON when it parses as JSON, a string otherwise (repeatable)
  --id ID, --key KEY, --secret SECRET
                       (create) the app's credentials
  --grace DURATION     (rotate-secret) how long the old secret is still accepted: 10m (default),
                       90s, 2h, 1d, or 0 for not at all
  --api-url URL        go through the Herald whose admin listener is at URL (or ${API_URL_ENV});
                       every command but migrate
  --api-token TOKEN    that server's api.token (or ${API_TOKEN_ENV})
  -h, --help           this text

Exit code 0: done; 1: the store or the server refused, or could not be reached (why, on standard
error); 2: bad usage or a configuration with problems.`;

/** Where `herald apps` writes and what environment it reads; the process's unless a test gives its own. */
export interface AppsIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

const processIo: AppsIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
};

/** Runs `herald apps <argv>`; resolves with the exit code: 0 done, 1 refused or unreachable, 2 bad usage. */
export async function apps(argv: readonly string[], io: AppsIo = processIo): Promise<number> {
  let request: AppsRequest;
  try {
    request = parseAppsArgs(argv, io.env);
  } catch (err) {
    if (!(err instanceof AppsUsageError)) throw err;
    io.err(`herald apps: ${visibleText(err.message)}\n\n${USAGE}\n`);
    return 2;
  }
  if (request.command === 'help') {
    io.out(`${USAGE}\n`);
    return 0;
  }

  let config: Readonly<Config> | undefined;
  if (!request.remote) {
    try {
      config = await loadConfig({ ...(request.config ? { file: request.config } : {}), env: io.env });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.err(`herald apps: ${err.message}\n`);
      return 2;
    }
  }

  let catalog: AppCatalog | undefined;
  try {
    if (request.remote) {
      return await run(request, new RemoteAppManager(request.remote.url, request.remote.token), io);
    }
    catalog = openAppCatalog(config!, storeLogger(config!));
    if (request.command === 'migrate') return await migrate(catalog, config!, request.json, io);
    return await run(request, new AppManager(catalog), io);
  } catch (err) {
    if (err instanceof AppInputError) {
      io.err(`herald apps: invalid app:\n${err.problems.map((p) => `  ${visibleText(p)}\n`).join('')}`);
      return 1;
    }
    if (
      err instanceof AppConflict ||
      err instanceof AppStoreReadOnly ||
      err instanceof AppStoreUnavailable ||
      err instanceof AppApiError
    ) {
      io.err(`herald apps: ${visibleText(err.message)}\n`);
      return 1;
    }
    throw err;
  } finally {
    await catalog?.close();
  }
}

type Command = Exclude<AppsRequest, { command: 'help' }>;

async function run(request: Command, backend: AppsBackend, io: AppsIo): Promise<number> {
  const { command, json } = request;
  // Undefined only for the commands that name no app (list, create), which do not read it.
  const id = request.id ?? '';
  const name = visibleText(id);
  const missing = () => {
    io.err(`herald apps: no app with id ${name} in ${visibleText(backend.description)}\n`);
    return 1;
  };
  const print = (value: unknown, text: string) => io.out(json ? `${JSON.stringify(value, null, 2)}\n` : text);

  switch (command) {
    case 'list': {
      const all = await backend.list();
      print(all, all.length === 0 ? `no apps in ${visibleText(backend.description)}\n` : appTable(all));
      return 0;
    }
    case 'show': {
      const app = await backend.show(id);
      if (!app) return missing();
      print(app, appDetails(app));
      return 0;
    }
    case 'create': {
      const app = await backend.create(request.fields);
      print(
        app,
        `created app ${visibleText(app.id)} in ${visibleText(backend.description)}:\n${appDetails(app)}`,
      );
      return 0;
    }
    case 'update': {
      const app = await backend.update(id, request.fields);
      if (!app) return missing();
      const fields = Object.keys(request.fields).map(visibleText).join(', ');
      print(app, `updated ${fields} of app ${name}:\n${appDetails(app)}`);
      return 0;
    }
    case 'enable':
    case 'disable': {
      const app = await (command === 'enable' ? backend.enable(id) : backend.disable(id));
      if (!app) return missing();
      print(app, `app ${name} ${command}d\n`);
      return 0;
    }
    case 'delete': {
      if (!(await backend.delete(id))) return missing();
      print({ id, deleted: true }, `deleted app ${name} from ${visibleText(backend.description)}\n`);
      return 0;
    }
    case 'rotate-secret': {
      const app = await backend.rotateSecret(id, request.graceMs);
      if (!app) return missing();
      print(app, rotated(app));
      return 0;
    }
    case 'migrate':
      // Refused with --api-url while reading the arguments; without it, `apps` migrates before `run`.
      throw new Error('herald apps migrate goes to the store directly');
  }
}

function rotated(app: App): string {
  const until = app.previousSecretExpiresAt;
  const old =
    until === null ? 'the old secret is no longer accepted' : `the old secret is accepted until ${until}`;
  return `new secret of app ${visibleText(app.id)}: ${visibleText(app.secret)}\n${old}\n`;
}

async function migrate(
  catalog: AppCatalog,
  config: Readonly<Config>,
  json: boolean,
  io: AppsIo,
): Promise<number> {
  const { from, to } = await catalog.migrate();
  // A config file has no table: its store refused the migration above.
  const table = config.appStore.driver === 'config' ? '' : config.appStore.table;
  io.out(
    json
      ? `${JSON.stringify({ table, from, to }, null, 2)}\n`
      : `table ${table} at version ${to} (was ${from})\n`,
  );
  return 0;
}

/**
 * The store's logger. Standard output is the command's answer (scripts parse `--json`), so the store's
 * own lines go to standard error; at `info`, the default, warnings and worse only.
 */
function storeLogger(config: Readonly<Config>): Logger {
  const level = config.logLevel === 'info' ? 'warn' : config.logLevel;
  const destination = pino.destination({ dest: 2, sync: true });
  if (logFormat(config, { tty: process.stderr.isTTY === true }) === 'json')
    return pino({ level }, destination);
  const colours = process.stderr.isTTY === true && !process.env.NO_COLOR;
  return pino({ level }, prettyDestination(destination, { colours }));
}
