import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { HttpError, httpError } from './errors.js';
import { RequestCounts, UNMATCHED_ROUTE } from './request-counts.js';
import { decodePathParams, parseRequestTarget } from './request-target.js';

export { HttpError } from './errors.js';

export interface HttpRequest {
  readonly method: string;
  readonly url: URL;
  /** Captures of the route pattern, percent-decoded. */
  readonly params: readonly string[];
  readonly headers: IncomingMessage['headers'];
  /** The socket's peer address (a proxy's, behind one); absent when the socket has none. */
  readonly remoteAddress?: string;
  /** Raw body bytes; empty for requests without one. */
  readonly body: Buffer;
  /**
   * The app the request is for, set by the handler once it found the app (never from the raw path):
   * the `app` label of the request in `herald_http_requests_total`. @default '' (none)
   */
  app?: string;
}

export interface HttpResult {
  status: number;
  body: unknown;
  /** Sends `body` (a string) as is with this content type instead of as JSON. */
  contentType?: string;
  /** Response headers besides Content-Type and Content-Length (`WWW-Authenticate`, `Retry-After`). */
  headers?: Readonly<Record<string, string>>;
  /**
   * Takes the response over instead of sending `body`: for answers that stay open (Server-Sent Events).
   * Called with the `headers` above already set; it writes the status line itself and owns the
   * response until it ends. `status` is what the metrics count.
   */
  stream?: (res: ServerResponse) => void;
}

export type HttpHandler = (request: HttpRequest) => HttpResult | Promise<HttpResult>;

interface Route {
  method: string;
  pattern: RegExp;
  /** `<METHOD> <path template>`, the `route` label of its requests. */
  label: string;
  handler: HttpHandler;
}

/** A path template: `/`-separated segments of letters, `_` and `-`, or `:name` for a parameter. */
const PATH_TEMPLATE = /^(\/([a-z_-]+|:[a-z_]+))+$/;

/**
 * `/apps/:id/events` → `^/apps/([^/]+)/events$`: each `:name` segment captures one path segment; `prefix`
 * goes before it, matched literally.
 */
function compilePath(path: string, prefix: string): RegExp {
  if (!PATH_TEMPLATE.test(path)) throw new Error(`not a path template: ${path}`);
  return new RegExp(`^${escapeRegExp(prefix)}${path.replace(/:[a-z_]+/g, '([^/]+)')}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Routes by method and path pattern; every answer, error or not, is JSON unless a handler says otherwise. */
export class Router {
  readonly #routes: Route[] = [];
  constructor(
    readonly logger: Logger,
    readonly maxBodyBytes: number,
    /** Requests answered, for the metrics; routers of several listeners may share one count. */
    readonly counts = new RequestCounts(),
  ) {}

  /**
   * Routes `method` requests whose path matches `path`: a template such as `/apps/:id/events` (each
   * `:name` captures a segment into `params`), or a pattern whose captures become `params`. `prefix` (a
   * path such as `/realtime`, taken literally) goes before a template. The template with its prefix (or
   * the pattern's source) is the route's label in the metrics.
   */
  add(method: string, path: string | RegExp, handler: HttpHandler, prefix = ''): void {
    if (typeof path !== 'string' && prefix !== '')
      throw new Error('a prefix goes before a path template only');
    const pattern = typeof path === 'string' ? compilePath(path, prefix) : path;
    const label = `${method} ${typeof path === 'string' ? prefix + path : path.source}`;
    this.#routes.push({ method, pattern, label, handler });
  }

  /**
   * Serves `other`'s routes here too, after this router's own, with the same handlers (and so the
   * same state: one rate limit per app whichever listener a request comes through). Routes added to
   * `other` later are not included.
   */
  include(other: Router): void {
    this.#routes.push(...other.#routes);
  }

  /** The request listener for `http.createServer`. */
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    this.#handle(req, res).catch((err) => {
      this.logger.error({ err }, 'http handler failed');
      if (!res.headersSent) sendError(res, httpError('INTERNAL'));
    });
  };

  /** Answers a request no route took, counted as `unmatched`. */
  #unmatched(res: ServerResponse, err: HttpError): void {
    this.counts.add(UNMATCHED_ROUTE, '', err.status);
    sendError(res, err);
  }

  /**
   * The `checkExpectation` listener: an `Expect` other than `100-continue` is refused (RFC 9110
   * section 10.1.1, "Expect") with a JSON body rather than Node's empty one.
   */
  readonly expectationFailed = (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('Connection', 'close');
    this.#unmatched(res, httpError('EXPECTATION_FAILED', JSON.stringify(req.headers.expect)));
  };

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // RFC 9112 section 3.2, "Request Target": an HTTP/1.1 request without Host is a 400 (the server
    // is created with Node's own check off, which would answer it with an empty body).
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      res.setHeader('Connection', 'close');
      return this.#unmatched(res, httpError('MISSING_HOST'));
    }
    let url: URL;
    try {
      url = parseRequestTarget(req.url);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      return this.#unmatched(res, err);
    }
    const method = req.method ?? 'GET';
    let allowed: string[] = [];
    for (const route of this.#routes) {
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      allowed = [];
      let request: HttpRequest | undefined;
      let result: HttpResult;
      try {
        const params = decodePathParams(match);
        const body = await readBody(req, this.maxBodyBytes);
        const remoteAddress = req.socket?.remoteAddress;
        request = {
          method,
          url,
          params,
          headers: req.headers,
          body,
          ...(remoteAddress ? { remoteAddress } : {}),
        };
        result = await route.handler(request);
      } catch (err) {
        const known = err instanceof HttpError;
        // What is not an HttpError is a fault, answered 500 by the listener.
        this.counts.add(route.label, request?.app ?? '', known ? err.status : 500);
        if (!known) throw err;
        if (err.status === 413) res.setHeader('Connection', 'close');
        return sendError(res, err);
      }
      this.counts.add(route.label, request.app ?? '', result.status);
      for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
      if (result.stream) return result.stream(res);
      return send(res, result.status, result.body, result.contentType);
    }
    if (allowed.length > 0) {
      res.setHeader('Allow', allowed.join(', '));
      this.#unmatched(res, httpError('METHOD_NOT_ALLOWED', method, url.pathname));
    } else {
      this.#unmatched(res, httpError('NOT_FOUND', url.pathname));
    }
  }
}

/** The one place an `HttpError` becomes a response: its status, and `{"error": message}`. */
function sendError(res: ServerResponse, err: HttpError): void {
  send(res, err.status, { error: err.message });
}

function send(res: ServerResponse, status: number, body: unknown, contentType?: string): void {
  const text = contentType ? String(body) : JSON.stringify(body);
  const type = contentType ?? 'application/json';
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const EMPTY = Buffer.alloc(0);

/**
 * The request body, whole. Past `limit` bytes it stops reading (the rest is drained) and rejects with
 * 413. Plain listeners rather than the stream's async iterator, which costs several promises per request.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(httpError('BODY_TOO_LARGE', limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.removeListener('data', onData);
      req.resume();
      reject(httpError('BODY_TOO_LARGE', limit));
    };
    req.on('data', onData);
    req.once('end', () => {
      if (size > limit) return;
      if (chunks.length === 0) resolve(EMPTY);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    req.once('error', reject);
  });
}
