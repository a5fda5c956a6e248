import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { HttpError, httpError } from './errors.js';
import { decodePathParams, parseRequestTarget } from './request-target.js';

export { HttpError } from './errors.js';

export interface HttpRequest {
  readonly method: string;
  readonly url: URL;
  /** Captures of the route pattern, percent-decoded. */
  readonly params: readonly string[];
  readonly headers: IncomingMessage['headers'];
  /** Raw body bytes; empty for requests without one. */
  readonly body: Buffer;
}

export interface HttpResult {
  status: number;
  body: unknown;
  /** Sends `body` (a string) as is with this content type instead of as JSON. */
  contentType?: string;
}

export type HttpHandler = (request: HttpRequest) => HttpResult | Promise<HttpResult>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: HttpHandler;
}

/** Routes by method and path pattern; every answer, error or not, is JSON unless a handler says otherwise. */
export class Router {
  readonly #routes: Route[] = [];

  constructor(
    readonly logger: Logger,
    readonly maxBodyBytes: number,
  ) {}

  add(method: string, pattern: RegExp, handler: HttpHandler): void {
    this.#routes.push({ method, pattern, handler });
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

  /**
   * The `checkExpectation` listener: an `Expect` other than `100-continue` is refused (RFC 9110
   * section 10.1.1, "Expect") with a JSON body rather than Node's empty one.
   */
  readonly expectationFailed = (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('Connection', 'close');
    sendError(res, httpError('EXPECTATION_FAILED', JSON.stringify(req.headers.expect)));
  };

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // RFC 9112 section 3.2, "Request Target": an HTTP/1.1 request without Host is a 400 (the server
    // is created with Node's own check off, which would answer it with an empty body).
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      res.setHeader('Connection', 'close');
      return sendError(res, httpError('MISSING_HOST'));
    }
    let url: URL;
    try {
      url = parseRequestTarget(req.url);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      return sendError(res, err);
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
      try {
        const params = decodePathParams(match);
        const body = await readBody(req, this.maxBodyBytes);
        const result = await route.handler({ method, url, params, headers: req.headers, body });
        send(res, result.status, result.body, result.contentType);
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        if (err.status === 413) res.setHeader('Connection', 'close');
        sendError(res, err);
      }
      return;
    }
    if (allowed.length > 0) {
      res.setHeader('Allow', allowed.join(', '));
      sendError(res, httpError('METHOD_NOT_ALLOWED', method, url.pathname));
    } else {
      sendError(res, httpError('NOT_FOUND', url.pathname));
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
