import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import {
  type App,
  AppConflict,
  type AppId,
  AppStoreReadOnly,
  AppStoreUnavailable,
} from '../core/apps/app.js';
import { constantTimeEqual } from '../core/constant-time.js';
import { httpErrorEntry as entry, HttpError, httpErrors } from '../http/errors.js';
import type { HttpRequest, HttpResult, Router } from '../http/router.js';
import { AppInputError, type AppManager, MAX_GRACE_MS } from './manage.js';

export interface AppAdminApiOptions {
  manager: AppManager;
  /** `api.token`: every request must carry `Authorization: Bearer <token>`. */
  token: string;
  /** Where each change is logged, at info. @default the router's logger */
  logger?: Logger;
}

/**
 * The refusals of the app management API (docs/apps.md, "App management API"), thrown as
 * `ERR_APP_API_<NAME>` and answered as `{"error": message}`; a store's own errors (read-only,
 * conflict, unavailable) and invalid app fields are answered with their own messages.
 */
export const AppApiErrors = {
  /** No `Authorization: Bearer` header (RFC 6750 section 3, "The WWW-Authenticate Response Header Field"). */
  TOKEN_MISSING: entry(401, () => 'Authorization: Bearer <api.token> is required'),
  TOKEN_INVALID: entry(401, () => 'The bearer token is not the api.token of this server'),
  BODY_NOT_JSON: entry(400, () => 'Request body must be JSON'),
  APP_NOT_FOUND: entry(404, (id: string) => `No app with id "${id}"`),
} as const;

export const appApiError = httpErrors('ERR_APP_API_', AppApiErrors);

/** What a client waits before asking again when the store is unavailable (a database restarting, say). */
const RETRY_AFTER_SECONDS = 5;

/** How long the secret before a rotation stays valid when the request does not say: ten minutes. */
export const DEFAULT_GRACE_MS = 600_000;

/** The paths that have a GET route; the others (the actions on an app) are writes only. */
const READABLE = new Set(['/herald/apps', '/herald/apps/:id']);

/** What a change does to an app, as its log line says it. */
type Change = 'created' | 'updated' | 'enabled' | 'disabled' | 'deleted' | 'secret rotated';

/**
 * The app management API under `/herald/apps`, for the admin listener only: list, show, create,
 * change, switch on and off, delete apps and rotate their secrets, through `manager`. Every request
 * carries the bearer token; apps are answered whole, secrets included, as the `App` type has them.
 */
export function addAppAdminApi(router: Router, options: AppAdminApiOptions): void {
  const { manager } = options;
  const logger = (options.logger ?? router.logger).child({ component: 'app-admin-api' });
  // Both sides are hashed before the comparison, so that its time says nothing of the token's length.
  const tokenDigest = digest(options.token);

  const authorize = (request: HttpRequest): void => {
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer[ \t]+(.*)$/is.exec(header);
    if (!match) throw appApiError('TOKEN_MISSING');
    if (!constantTimeEqual(digest(match[1]!.trim()), tokenDigest)) {
      logger.debug({ route: `${request.method} ${request.url.pathname}` }, 'wrong api token');
      throw appApiError('TOKEN_INVALID');
    }
  };

  const changed = (app: AppId, change: Change, details: Record<string, unknown> = {}): void => {
    logger.info({ app, change, ...details }, `app ${change}`);
  };

  /** Registers a route whose handler runs once the token is right, its refusals answered as JSON. */
  const route = (method: string, path: string, handler: (request: HttpRequest) => Promise<HttpResult>) => {
    // What a read-only store still allows on the path, for the `Allow` header of its 405.
    const reads = READABLE.has(path) ? 'GET' : '';
    router.add(method, path, async (request) => {
      try {
        authorize(request);
        return await handler(request);
      } catch (err) {
        return refusal(err, reads, logger);
      }
    });
  };

  /** The app `request` names, or a 404; the app label of the request's metrics once it is known. */
  const found = (request: HttpRequest, app: App | undefined): HttpResult => {
    if (!app) throw appApiError('APP_NOT_FOUND', request.params[0]!);
    request.app = app.id;
    return { status: 200, body: { app } };
  };

  route('GET', '/herald/apps', async () => ({ status: 200, body: { apps: await manager.list() } }));

  route('POST', '/herald/apps', async (request) => {
    const app = await manager.create(jsonBody(request));
    request.app = app.id;
    changed(app.id, 'created');
    return { status: 201, body: { app } };
  });

  route('GET', '/herald/apps/:id', async (request) => found(request, await manager.show(request.params[0]!)));

  route('PATCH', '/herald/apps/:id', async (request) => {
    const changes = jsonBody(request);
    const result = found(request, await manager.update(request.params[0]!, changes));
    // The names of the fields only: their values may be secrets.
    const fields = Object.keys(changes as object);
    if (fields.length > 0) changed(request.params[0]!, 'updated', { fields });
    return result;
  });

  route('POST', '/herald/apps/:id/enable', async (request) => {
    const result = found(request, await manager.enable(request.params[0]!));
    changed(request.params[0]!, 'enabled');
    return result;
  });

  route('POST', '/herald/apps/:id/disable', async (request) => {
    const result = found(request, await manager.disable(request.params[0]!));
    changed(request.params[0]!, 'disabled');
    return result;
  });

  route('DELETE', '/herald/apps/:id', async (request) => {
    const id = request.params[0]!;
    if (!(await manager.delete(id))) throw appApiError('APP_NOT_FOUND', id);
    request.app = id;
    changed(id, 'deleted');
    return { status: 200, body: { deleted: true } };
  });

  route('POST', '/herald/apps/:id/rotate-secret', async (request) => {
    const graceMs = graceOf(jsonBody(request));
    const result = found(request, await manager.rotateSecret(request.params[0]!, graceMs));
    changed(request.params[0]!, 'secret rotated', { graceMs });
    return result;
  });
}

/**
 * The `WWW-Authenticate` of a 401 (RFC 6750 section 3): the scheme, and `invalid_token` when a token
 * was given but is not the one.
 */
function challenge(err: HttpError): Record<string, string> {
  if (err.status !== 401) return {};
  const invalid = err.code === 'ERR_APP_API_TOKEN_INVALID';
  return { 'WWW-Authenticate': invalid ? 'Bearer error="invalid_token"' : 'Bearer' };
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The body as JSON; an empty body is `{}` (`curl -X POST` without data). */
function jsonBody(request: HttpRequest): unknown {
  if (request.body.length === 0) return {};
  try {
    return JSON.parse(request.body.toString('utf8'));
  } catch {
    throw appApiError('BODY_NOT_JSON');
  }
}

/** `graceMs` of a rotation's body: whole milliseconds, 0 (the old secret stops at once) to a year. */
function graceOf(body: unknown): number {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AppInputError(['an object such as {"graceMs": 600000}']);
  }
  const { graceMs = DEFAULT_GRACE_MS, ...rest } = body as Record<string, unknown>;
  const problems = Object.keys(rest).map((key) => `${key}: not a field of a rotation (graceMs)`);
  if (!Number.isSafeInteger(graceMs) || (graceMs as number) < 0 || (graceMs as number) > MAX_GRACE_MS) {
    problems.unshift(`graceMs: whole milliseconds from 0 to ${MAX_GRACE_MS}`);
  }
  if (problems.length > 0) throw new AppInputError(problems);
  return graceMs as number;
}

/**
 * The answer to what a handler threw: the API's own refusals, invalid fields with their problems, and
 * the store's refusals with the status that says what to do (405 for a read-only store, with what it
 * still allows; 409 for a taken id or key; 503 and when to try again for a store that cannot answer).
 * Anything else is a fault, rethrown for the router to log and answer 500.
 */
function refusal(err: unknown, reads: string, logger: Logger): HttpResult {
  if (err instanceof HttpError) {
    return { status: err.status, body: { error: err.message }, headers: challenge(err) };
  }
  if (err instanceof AppInputError) {
    return { status: 400, body: { error: err.message, problems: err.problems } };
  }
  if (err instanceof AppConflict) return { status: 409, body: { error: err.message } };
  if (err instanceof AppStoreReadOnly) {
    return { status: 405, body: { error: err.message }, headers: { Allow: reads } };
  }
  if (err instanceof AppStoreUnavailable) {
    logger.warn({ err }, 'app store unavailable');
    return {
      status: 503,
      body: { error: err.message },
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    };
  }
  throw err;
}
