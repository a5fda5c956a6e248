import { randomBytes, randomInt } from 'node:crypto';
import { appSchema } from '../config/schema.js';
import { type App, type AppCatalog, type AppChanges, AppConflict, type AppId } from '../core/apps/app.js';
import { HeraldError } from '../core/errors.js';

export const ERR_APP_INPUT = 'ERR_APP_INPUT';

/** Fields of an app given to `create` or `update` that the schema refuses, each problem naming its field. */
export class AppInputError extends HeraldError {
  constructor(readonly problems: readonly string[]) {
    super(ERR_APP_INPUT, `invalid app: ${problems.join('; ')}`);
  }
}

export interface AppManagerOptions {
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number;
  /** Told the id of each app this manager changed, created or deleted, after the store took it. */
  changed?: (id: AppId) => Promise<void>;
}

/** The longest grace period of a rotated secret: a year. */
export const MAX_GRACE_MS = 365 * 86_400_000;

/** Attempts at a generated id or key before a conflict goes up. */
const GENERATED_ATTEMPTS = 5;

/**
 * What `herald apps` and the app management API do to a store: validation against the app schema,
 * credentials from a CSPRNG, secret rotation with a grace period, and the word to the cluster after
 * each change.
 */
export class AppManager {
  readonly #catalog: AppCatalog;
  readonly #now: () => number;
  readonly #changed: (id: AppId) => Promise<void>;

  constructor(catalog: AppCatalog, options: AppManagerOptions = {}) {
    this.#catalog = catalog;
    this.#now = options.now ?? Date.now;
    this.#changed = options.changed ?? (async () => {});
  }

  get description(): string {
    return this.#catalog.description;
  }

  list(): Promise<readonly App[]> {
    return this.#catalog.all();
  }

  show(id: AppId): Promise<App | undefined> {
    return this.#catalog.findById(id);
  }

  /** Creates an app from `input` (any app fields; `id`, `key` and `secret` are generated when absent). */
  async create(input: unknown): Promise<App> {
    const fields = asObject(input);
    for (let attempt = 1; ; attempt++) {
      const app = parseApp({
        id: String(randomInt(1_000_000, 10_000_000)),
        key: randomBytes(10).toString('hex'),
        secret: randomBytes(16).toString('hex'),
        ...fields,
      });
      try {
        const created = await this.#catalog.create(app);
        await this.#changed(created.id);
        return created;
      } catch (err) {
        // A generated id or key that happens to be taken is drawn again; a given one is the caller's.
        const generated = err instanceof AppConflict && fields[err.field] === undefined;
        if (!generated || attempt === GENERATED_ATTEMPTS) throw err;
      }
    }
  }

  /** Changes the fields `input` gives; undefined when there is no app with `id`. */
  async update(id: AppId, input: unknown): Promise<App | undefined> {
    const changes = asObject(input);
    if ('id' in changes && changes.id !== id) throw new AppInputError(['id: an app keeps its id']);
    delete changes.id;
    const current = await this.#catalog.findById(id);
    if (!current) return undefined;
    const next = parseApp({ ...current, ...changes });
    const picked = Object.fromEntries(Object.keys(changes).map((k) => [k, next[k as keyof App]]));
    return this.#apply(id, picked as AppChanges);
  }

  enable(id: AppId): Promise<App | undefined> {
    return this.#apply(id, { enabled: true });
  }

  disable(id: AppId): Promise<App | undefined> {
    return this.#apply(id, { enabled: false });
  }

  async delete(id: AppId): Promise<boolean> {
    const deleted = await this.#catalog.delete(id);
    if (deleted) await this.#changed(id);
    return deleted;
  }

  /**
   * Gives the app a new secret; the one it had stays valid for `graceMs` more (0: not at all), so that
   * server SDKs can be redeployed with the new one without a failed request.
   */
  async rotateSecret(id: AppId, graceMs: number): Promise<App | undefined> {
    if (!Number.isInteger(graceMs) || graceMs < 0 || graceMs > MAX_GRACE_MS) {
      throw new AppInputError(['grace: a duration from 0 to a year']);
    }
    const current = await this.#catalog.findById(id);
    if (!current) return undefined;
    const grace = graceMs > 0;
    return this.#apply(id, {
      secret: randomBytes(16).toString('hex'),
      previousSecret: grace ? current.secret : null,
      previousSecretExpiresAt: grace ? new Date(this.#now() + graceMs).toISOString() : null,
    });
  }

  async #apply(id: AppId, changes: AppChanges): Promise<App | undefined> {
    const app = await this.#catalog.update(id, changes);
    if (app) await this.#changed(id);
    return app;
  }
}

function asObject(input: unknown): Record<string, unknown> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new AppInputError(['an object of app fields']);
  }
  return { ...(input as Record<string, unknown>) };
}

function parseApp(input: Record<string, unknown>): App {
  const result = appSchema.safeParse(input);
  if (result.success) return result.data;
  throw new AppInputError(
    result.error.issues.flatMap((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
      return keys.map((key) => {
        const path = key === undefined ? issue.path : [...issue.path, key];
        return `${path.length ? path.join('.') : '(app)'}: ${issue.message}`;
      });
    }),
  );
}

/** `10m`, `90s`, `2h`, `1d`, `500ms` or plain milliseconds, as milliseconds; undefined when not one of those. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms']!;
  return Math.round(Number(match[1]) * unit);
}
