import { HeraldError } from '../core/errors.js';

/** One HTTP refusal: its status, and the words of its message (the body is `{"error": message}`). */
export interface HttpErrorEntry<A extends unknown[] = never[]> {
  readonly status: number;
  readonly message: (...args: A) => string;
}

/** A catalog entry: `status`, and `message` building the text from what the refusal is about. */
export const httpErrorEntry = <A extends unknown[]>(
  status: number,
  message: (...args: A) => string,
): HttpErrorEntry<A> => ({ status, message });

const entry = httpErrorEntry;

/**
 * The refusals of the HTTP layer itself, before any route's handler runs: requests Node's parser or
 * our request-target rules refuse, unknown paths and methods, bodies over `maxBodyBytes`, and
 * WebSocket upgrades refused before they happen (by path, handshake, shutdown or a connection limit).
 * Each is thrown or answered as `ERR_HTTP_<NAME>`; the statuses are the RFC 9110 ones for the case.
 */
export const HttpErrors = {
  /** Neither origin-form, absolute-form nor `*` (RFC 9112 section 3.2, "Request Target"). */
  MALFORMED_TARGET: entry(400, (target: string) => `Malformed request target: ${target}`),
  /** A `%` not followed by two hex digits in the path (RFC 3986 section 2.1, "Percent-Encoding"). */
  MALFORMED_PATH_ENCODING: entry(400, (path: string) => `Malformed percent-encoding in path: ${path}`),
  /** A path segment whose escapes are not UTF-8. */
  MALFORMED_SEGMENT_ENCODING: entry(
    400,
    (segment: string) => `Malformed percent-encoding in path segment: ${segment}`,
  ),
  /** An HTTP/1.1 request without a Host header (RFC 9112 section 3.2). */
  MISSING_HOST: entry(400, () => 'Missing Host header'),
  /** A body over the server's `maxBodyBytes`, declared or sent; the connection is closed after. */
  BODY_TOO_LARGE: entry(413, (limit: number) => `Request body larger than ${limit} bytes`),
  NOT_FOUND: entry(404, (path: string) => `Not found: ${path}`),
  /** The path exists for other methods, listed in the `Allow` header. */
  METHOD_NOT_ALLOWED: entry(405, (method: string, path: string) => `Method ${method} not allowed on ${path}`),
  /** An `Expect` other than `100-continue` (RFC 9110 section 10.1.1, "Expect"). */
  EXPECTATION_FAILED: entry(417, (expect: string) => `Unsupported expectation: ${expect}`),
  /** Herald is no proxy. */
  CONNECT_NOT_ALLOWED: entry(405, () => 'Method CONNECT not allowed'),
  /** A fault of ours, logged; the client only learns that it happened. */
  INTERNAL: entry(500, () => 'Internal server error'),

  // Requests Node's HTTP parser refuses; the detail is the parser's.
  MALFORMED_REQUEST: entry(400, (detail: string) => `Malformed HTTP request: ${detail}`),
  HEADERS_TOO_LARGE: entry(431, (detail: string) => `Malformed HTTP request: ${detail}`),
  CHUNK_EXTENSIONS_TOO_LARGE: entry(413, (detail: string) => `Malformed HTTP request: ${detail}`),
  REQUEST_TIMEOUT: entry(408, (detail: string) => `Malformed HTTP request: ${detail}`),

  // WebSocket upgrades refused before they happen.
  /** No WebSocket route matches the path. */
  NO_WEBSOCKET_ENDPOINT: entry(404, (path: string) => `No WebSocket endpoint at ${path}`),
  /** The route speaks subprotocols and the client offered none of them. */
  SUBPROTOCOL_REQUIRED: entry(
    400,
    (protocols: string) => `Offer one of the WebSocket subprotocols ${protocols}`,
  ),
  /** An upgrade that is not a GET; the detail is ws's. */
  UPGRADE_METHOD_NOT_ALLOWED: entry(405, (detail: string) => detail),
  /** A Sec-WebSocket-Version other than 13 or 8 (RFC 6455 section 4.4). */
  UPGRADE_VERSION_UNSUPPORTED: entry(400, (detail: string) => detail),
  /** Any other handshake ws refuses (no or bad key, a malformed Sec-WebSocket-Protocol). */
  UPGRADE_INVALID: entry(400, (detail: string) => detail),
  /** The server is draining: new connections go to another node. */
  SHUTTING_DOWN: entry(503, () => 'Server is shutting down'),
  /** The server has `maxConnections` open. */
  SERVER_FULL: entry(503, () => 'Server is at its connection limit'),
  /** The server is over `maxMemoryMB`. */
  OVER_MEMORY: entry(503, () => 'Server is over its memory limit'),
  /** The client address holds `maxConnectionsPerAddress` connections. */
  TOO_MANY_CONNECTIONS: entry(429, () => 'Too many connections from this address'),
  /** The client address opens connections faster than `connectionRatePerAddress` allows. */
  CONNECTION_RATE: entry(429, () => 'Too many new connections from this address'),
} as const;

/** An HTTP refusal with its stable code and status; answered as `{"error": message}` with that status. */
export class HttpError extends HeraldError {
  constructor(
    code: string,
    readonly status: number,
    message: string,
  ) {
    super(code, message);
  }
}

type Catalog = Readonly<Record<string, HttpErrorEntry<never>>>;
type ArgsOf<E> = E extends { readonly message: (...args: infer A) => string } ? A : never;

/**
 * A function that builds a catalog's errors: `make('NAME', ...args)` is an `HttpError` with the code
 * `${prefix}NAME`, the entry's status and its message.
 */
export function httpErrors<C extends Catalog>(
  prefix: string,
  catalog: C,
): <K extends keyof C & string>(name: K, ...args: ArgsOf<C[K]>) => HttpError {
  return (name, ...args) => {
    const { status, message } = catalog[name] as unknown as HttpErrorEntry<ArgsOf<C[typeof name]>>;
    return new HttpError(`${prefix}${name}`, status, message(...args));
  };
}

/** The HTTP layer's own errors (`ERR_HTTP_<NAME>`). */
export const httpError = httpErrors('ERR_HTTP_', HttpErrors);
