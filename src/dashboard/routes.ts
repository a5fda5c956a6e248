import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { DashboardConfig } from '../config/schema.js';
import { ClientAddresses } from '../core/client-address.js';
import { httpErrorEntry as entry, HttpError, httpErrors } from '../http/errors.js';
import type { HttpRequest, HttpResult, Router } from '../http/router.js';
import { AddressLimits } from '../transport/address-limits.js';
import { assetResult, loadAssets } from './assets.js';
import {
  cookieValue,
  hashPassword,
  SCRYPT_DEFAULTS,
  type Session,
  SessionTokens,
  verifyPassword,
} from './auth.js';

/** The cookie that carries the session token. */
export const SESSION_COOKIE = 'herald_dashboard';
/** Where the dashboard lives; its API is under `${DASHBOARD_PATH}/api`. */
export const DASHBOARD_PATH = '/dashboard';

/**
 * The refusals of the dashboard's API (docs/dashboard.md, "Security"), thrown as
 * `ERR_DASHBOARD_<NAME>` and answered as `{"error": message}`.
 */
export const DashboardErrors = {
  /** No session cookie, or one that is forged, tampered with, expired or of a user no longer configured. */
  NOT_SIGNED_IN: entry(401, () => 'Sign in to the dashboard first'),
  /** The same words for an unknown name and a wrong password: the answer does not say which. */
  BAD_CREDENTIALS: entry(401, () => 'Wrong name or password'),
  /** A state-changing request whose body is not declared JSON: an HTML form on another site could send it. */
  NOT_JSON: entry(403, () => 'State-changing requests must have Content-Type: application/json'),
  /** A state-changing request sent from a page of another origin. */
  CROSS_ORIGIN: entry(403, (origin: string) => `Requests from origin ${origin} are refused`),
  BODY_INVALID: entry(400, () => 'The body must be JSON: {"name": "…", "password": "…"}'),
  TOO_MANY_ATTEMPTS: entry(429, () => 'Too many sign-in attempts from this address; try again in a minute'),
} as const;

export const dashboardError = httpErrors('ERR_DASHBOARD_', DashboardErrors);

/** Sign-in attempts one client address may make: a burst of this many, then this many a minute. */
export const SIGN_IN_ATTEMPTS_PER_MINUTE = 10;

export interface DashboardOptions {
  config: DashboardConfig;
  /** The listener speaks TLS: the cookie gets `Secure`. */
  secure: boolean;
  /** `trustedProxies`, to find the client address of a sign-in attempt behind a reverse proxy. */
  trustedProxies: readonly string[];
  /** Milliseconds since the epoch, for session expiry. @default Date.now */
  now?: () => number;
  /** @default the router's logger */
  logger?: Logger;
}

/** A dashboard route's handler, run once the request carries a valid session. */
export type DashboardHandler = (request: HttpRequest, session: Session) => HttpResult | Promise<HttpResult>;

/** What other dashboard routes are built with. */
export interface DashboardAccess {
  /**
   * The session of `request`, after the checks every dashboard API request passes: for POST, PUT,
   * PATCH and DELETE, `Content-Type: application/json` and an `Origin` (when sent) of the request's
   * own host (else 403); then a valid session cookie of a configured user (else 401). Throws the
   * refusal as an `HttpError`.
   */
  authorize(request: HttpRequest): Session;
  /**
   * Registers `method` `${DASHBOARD_PATH}/api${path}` (a router path template, `/events/:id`): the
   * handler runs once `authorize` passed; its refusals and `HttpError`s are answered as
   * `{"error": message}`, and every answer carries `Cache-Control: no-store`.
   */
  route(method: string, path: string, handler: DashboardHandler): void;
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const NO_STORE = { 'Cache-Control': 'no-store' };
/**
 * The page's own scripts and styles only: no inline script (an injected one would not run), no
 * framing (clickjacking), no foreign form targets.
 */
const CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * The dashboard's sign-in, sessions and page under `/dashboard` on `router`: `GET /dashboard`, its
 * script and style sheet, and `POST /dashboard/api/login`, `POST /dashboard/api/logout`, `GET /dashboard/api/session`.
 * Returns what further routes are registered with.
 */
export function addDashboard(router: Router, options: DashboardOptions): DashboardAccess {
  const { config } = options;
  const logger = (options.logger ?? router.logger).child({ component: 'dashboard' });
  const tokens = new SessionTokens({
    // Unset, a random one: sessions end with the process (docs/dashboard.md, "Sessions").
    secret: config.sessionSecret ?? randomBytes(32),
    ttlMs: config.sessionTtlMs,
    ...(options.now ? { now: options.now } : {}),
  });
  const users = new Map(config.users.map((user) => [user.name, user.passwordHash]));
  // An unknown name is checked against this, so that it costs the same time as a wrong password.
  const decoy = hashPassword(randomBytes(16).toString('hex'), SCRYPT_DEFAULTS);
  const addresses = new ClientAddresses(options.trustedProxies);
  const attempts = new AddressLimits({
    maxConnectionsPerAddress: null,
    ratePerSecond: SIGN_IN_ATTEMPTS_PER_MINUTE / 60,
    burst: SIGN_IN_ATTEMPTS_PER_MINUTE,
  });
  const cookie = (value: string, maxAgeSeconds: number) =>
    `${SESSION_COOKIE}=${value}; Max-Age=${maxAgeSeconds}; Path=${DASHBOARD_PATH}; HttpOnly; SameSite=Strict` +
    (options.secure ? '; Secure' : '');

  const sessionOf = (request: HttpRequest): Session | undefined => {
    const token = cookieValue(request.headers.cookie, SESSION_COOKIE);
    const session = token === undefined ? undefined : tokens.verify(token);
    // A user taken out of the configuration is signed out, whatever their token says.
    return session && users.has(session.name) ? session : undefined;
  };

  const authorize = (request: HttpRequest): Session => {
    checkSameOrigin(request);
    const session = sessionOf(request);
    if (!session) throw dashboardError('NOT_SIGNED_IN');
    return session;
  };

  /** Registers an API route whose refusals are answered as JSON, never cached. */
  const api = (method: string, path: string, handler: (request: HttpRequest) => Promise<HttpResult>) => {
    router.add(method, `${DASHBOARD_PATH}/api${path}`, async (request): Promise<HttpResult> => {
      try {
        const result = await handler(request);
        return { ...result, headers: { ...NO_STORE, ...result.headers } };
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        const retry: Record<string, string> = err.status === 429 ? { 'Retry-After': '60' } : {};
        return { status: err.status, body: { error: err.message }, headers: { ...NO_STORE, ...retry } };
      }
    });
  };

  const route = (method: string, path: string, handler: DashboardHandler) =>
    api(method, path, async (request) => handler(request, authorize(request)));

  // The page is the same for everyone: it asks `/session` who is signed in and shows the sign-in
  // form or the views. It is never cached, so that a new version's page names the new files.
  const assets = loadAssets();
  const index = assets['index.html'];
  router.add('GET', /^\/dashboard\/?$/, () => ({
    status: 200,
    body: index.body,
    contentType: index.contentType,
    headers: { ...NO_STORE, 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff' },
  }));
  router.add('GET', /^\/dashboard\/app\.js$/, (request) => assetResult(assets['app.js'], request));
  router.add('GET', /^\/dashboard\/app\.css$/, (request) => assetResult(assets['app.css'], request));

  api('POST', '/login', async (request) => {
    checkSameOrigin(request);
    const address = addresses.of(request.remoteAddress ?? '', request.headers['x-forwarded-for']);
    if (attempts.admit(address) !== undefined) {
      logger.warn({ address }, 'dashboard sign-in attempts over the limit');
      throw dashboardError('TOO_MANY_ATTEMPTS');
    }
    const { name, password } = credentials(request);
    const hash = users.get(name);
    const ok = await verifyPassword(password, hash ?? (await decoy));
    if (!ok || hash === undefined) {
      logger.info({ address, name }, 'dashboard sign-in refused');
      throw dashboardError('BAD_CREDENTIALS');
    }
    logger.info({ address, name }, 'dashboard sign-in');
    // Rounded up: a session shorter than a second still gets a cookie; its token expires on time.
    const maxAge = Math.ceil(config.sessionTtlMs / 1000);
    return {
      status: 204,
      body: '',
      contentType: 'text/plain',
      headers: { 'Set-Cookie': cookie(tokens.issue(name), maxAge) },
    };
  });

  // Tokens are not stored, so signing out forgets the cookie in this browser; a copy of the token
  // stays valid until it expires (docs/dashboard.md, "Sessions").
  route('POST', '/logout', () => ({
    status: 204,
    body: '',
    contentType: 'text/plain',
    headers: { 'Set-Cookie': cookie('', 0) },
  }));

  route('GET', '/session', (_request, session) => ({
    status: 200,
    body: { name: session.name, expiresAt: new Date(session.expiresAt).toISOString() },
  }));

  return { authorize, route };
}

/**
 * Cross-site request forgery: the cookie is SameSite=Strict, and a state-changing request must also
 * declare a JSON body (which a cross-site form cannot send without a CORS preflight, which Herald
 * never grants) and, when the browser says where it comes from, come from this host.
 */
function checkSameOrigin(request: HttpRequest): void {
  if (!STATE_CHANGING.has(request.method)) return;
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) throw dashboardError('NOT_JSON');
  const origin = request.headers.origin;
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    // `null` (a sandboxed frame, a redirect across sites) or anything unparsable: not this host.
    host = undefined;
  }
  const own = request.headers.host?.toLowerCase();
  if (host === undefined || own === undefined || host !== own) throw dashboardError('CROSS_ORIGIN', origin);
}

/** `{name, password}` of a sign-in body, both non-empty strings of sane length. */
function credentials(request: HttpRequest): { name: string; password: string } {
  let body: unknown;
  try {
    body = JSON.parse(request.body.toString('utf8'));
  } catch {
    throw dashboardError('BODY_INVALID');
  }
  const { name, password } = (body !== null && typeof body === 'object' ? body : {}) as Record<
    string,
    unknown
  >;
  if (typeof name !== 'string' || typeof password !== 'string') throw dashboardError('BODY_INVALID');
  if (name.length === 0 || name.length > 100 || password.length === 0 || password.length > 1024) {
    throw dashboardError('BODY_INVALID');
  }
  return { name, password };
}
