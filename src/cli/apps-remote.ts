import type { AppManager } from '../apps/manage.js';
import { AppInputError } from '../apps/manage.js';
import {
  type App,
  AppConflict,
  type AppId,
  AppStoreReadOnly,
  AppStoreUnavailable,
} from '../core/apps/app.js';
import { HeraldError } from '../core/errors.js';

export const ERR_APP_API = 'ERR_APP_API';

/**
 * A refusal of the app management API that is none of the store's (a wrong token, no such API on that
 * listener, an answer that is not the API's), with what to check.
 */
export class AppApiError extends HeraldError {
  constructor(message: string) {
    super(ERR_APP_API, message);
  }
}

/** What `herald apps` asks of the apps, directly (`AppManager`) or through a running Herald. */
export type AppsBackend = Pick<
  AppManager,
  'description' | 'list' | 'show' | 'create' | 'update' | 'enable' | 'disable' | 'delete' | 'rotateSecret'
>;

export interface RemoteAppsOptions {
  /** How long one request may take before the server counts as unreachable. @default 10000 */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** A body of the API: `{"error": …, "problems": […]}` on refusals, the app or apps otherwise. */
interface ApiBody {
  error?: unknown;
  problems?: unknown;
  app?: unknown;
  apps?: unknown;
  deleted?: unknown;
}

/**
 * `AppManager`'s methods through a running Herald's app management API (`/herald/apps` on its admin
 * listener, docs/apps.md), so that a change reaches every node at once. The API's refusals come back
 * as the exceptions `AppManager` throws for the same reason (`AppInputError`, `AppConflict`,
 * `AppStoreReadOnly`, `AppStoreUnavailable`), carrying the server's words, which name its store; an
 * unknown app is undefined (false for `delete`), as there. The rest is `AppApiError`.
 */
export class RemoteAppManager implements AppsBackend {
  readonly description: string;
  readonly #base: URL;
  readonly #token: string;
  readonly #timeoutMs: number;

  /** `url`: the admin listener, perhaps with a path a proxy serves it under. */
  constructor(url: URL, token: string, options: RemoteAppsOptions = {}) {
    const base = new URL(url);
    base.pathname = `${base.pathname.replace(/\/+$/, '')}/herald/apps`;
    this.#base = base;
    this.#token = token;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.description = `Herald at ${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  }

  async list(): Promise<readonly App[]> {
    const { body } = await this.#request('GET', '');
    if (!Array.isArray(body.apps) || !body.apps.every(isApp)) throw this.#unexpected('GET', '', 'apps');
    return body.apps;
  }

  async show(id: AppId): Promise<App | undefined> {
    return this.#app('GET', `/${encodeURIComponent(id)}`);
  }

  async create(input: unknown): Promise<App> {
    const app = await this.#app('POST', '', input);
    // The collection is there, or the request would have failed: a 404 names no app.
    if (!app) throw this.#unexpected('POST', '', 'app');
    return app;
  }

  update(id: AppId, input: unknown): Promise<App | undefined> {
    return this.#app('PATCH', `/${encodeURIComponent(id)}`, input);
  }

  enable(id: AppId): Promise<App | undefined> {
    return this.#app('POST', `/${encodeURIComponent(id)}/enable`);
  }

  disable(id: AppId): Promise<App | undefined> {
    return this.#app('POST', `/${encodeURIComponent(id)}/disable`);
  }

  async delete(id: AppId): Promise<boolean> {
    const { status, body } = await this.#request('DELETE', `/${encodeURIComponent(id)}`);
    if (status === 404) return false;
    if (body.deleted !== true) throw this.#unexpected('DELETE', `/${encodeURIComponent(id)}`, 'deleted');
    return true;
  }

  rotateSecret(id: AppId, graceMs: number): Promise<App | undefined> {
    return this.#app('POST', `/${encodeURIComponent(id)}/rotate-secret`, { graceMs });
  }

  /** The `app` of the answer; undefined when the server has no app by the id in `path`. */
  async #app(method: string, path: string, body?: unknown): Promise<App | undefined> {
    const answer = await this.#request(method, path, body);
    if (answer.status === 404) return undefined;
    if (!isApp(answer.body.app)) throw this.#unexpected(method, path, 'app');
    return answer.body.app;
  }

  /**
   * One request, with the token. Resolves with 2xx answers, and with 404 for a route under an app id
   * (an unknown app); every other answer throws what it means.
   */
  async #request(method: string, path: string, body?: unknown): Promise<{ status: number; body: ApiBody }> {
    const url = new URL(this.#base);
    url.pathname += path;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers: {
          Authorization: `Bearer ${this.#token}`,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        redirect: 'error',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      throw new AppStoreUnavailable(
        `cannot reach ${this.description}: ${networkReason(err, this.#timeoutMs)}`,
        {
          cause: err,
        },
      );
    }
    const parsed = parseBody(text);
    const said = typeof parsed?.error === 'string' ? parsed.error : undefined;
    if (response.ok && parsed !== undefined && said === undefined)
      return { status: response.status, body: parsed };
    const where = `${method} ${url.pathname}`;
    const message = said ?? `${this.description} answered ${where} with HTTP ${response.status}`;
    switch (response.status) {
      case 400: {
        const problems = Array.isArray(parsed?.problems) ? parsed.problems.map(String) : [said ?? text];
        throw new AppInputError(problems);
      }
      case 401:
      case 403:
        throw new AppApiError(
          `${this.description} refused the token (${response.status}${said ? `: ${said}` : ''}): ` +
            'give its api.token with --api-token or HERALD_API_TOKEN',
        );
      case 404:
        // A route under an app id is there whenever the API is: its 404 is the API's "no such app".
        // The router's own 404 ("Not found: <path>") says there is no API on that listener.
        if (path !== '' && said !== undefined && !said.startsWith('Not found:')) {
          return { status: 404, body: parsed! };
        }
        throw new AppApiError(
          `${this.description} has no app management API (${where} answered 404): give the URL of ` +
            'its admin listener (api.port), and set api.token in its configuration',
        );
      case 405:
        throw serverSaid(new AppStoreReadOnly(this.description), message);
      case 409:
        throw conflict(message);
      case 503:
        throw new AppStoreUnavailable(said ?? message);
      default:
        throw new AppApiError(
          `${this.description} answered ${where} with HTTP ${response.status}` +
            `${said ? `: ${said}` : text ? `: ${text.slice(0, 200)}` : ''}`,
        );
    }
  }

  #unexpected(method: string, path: string, field: string): AppApiError {
    return new AppApiError(
      `${this.description} answered ${method} ${this.#base.pathname}${path} without "${field}": is it Herald's admin listener?`,
    );
  }
}

/** `err` with the server's words, which name its store and what to do. */
function serverSaid<E extends Error>(err: E, message: string): E {
  err.message = message;
  return err;
}

/** The `AppConflict` whose message the server sent, its field and value read back from it. */
function conflict(message: string): AppConflict {
  const match = /^an app with (id|key) "(.*)" exists already$/s.exec(message);
  if (match) return new AppConflict(match[1] as 'id' | 'key', match[2]!);
  return serverSaid(new AppConflict('id', ''), message);
}

function parseBody(text: string): ApiBody | undefined {
  try {
    const body: unknown = JSON.parse(text);
    return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as ApiBody) : undefined;
  } catch {
    // Not JSON: not the API's answer (a proxy's error page, say); the status decides what it means.
    return undefined;
  }
}

/** An object with a string id: the shape every answer's app has; the rest is printed as it comes. */
function isApp(value: unknown): value is App {
  return value !== null && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string';
}

/** Why `fetch` got no answer: the system's error code (ECONNREFUSED, ENOTFOUND), or the timeout. */
function networkReason(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && err.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  const cause =
    err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}
