import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { finished } from 'node:stream';
import type { Logger } from 'pino';
import { httpError } from './errors.js';
import { refuseOnSocket } from './raw-refusal.js';

/** Parser errors with their own refusal; every other one is `MALFORMED_REQUEST` (400). */
const REFUSAL_OF: Readonly<
  Record<string, 'HEADERS_TOO_LARGE' | 'CHUNK_EXTENSIONS_TOO_LARGE' | 'REQUEST_TIMEOUT'>
> = {
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'CHUNK_EXTENSIONS_TOO_LARGE',
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
};

/**
 * The `clientError` listener of the http.Server: a request Node's HTTP parser refuses (a request line
 * or header it cannot parse, headers past the size limit, a request that took too long) is answered
 * with the same status Node would give, but with a JSON `{"error"}` body like every other refusal,
 * and the connection is closed. When the error follows a complete request on the same connection
 * (pipelining), that request's response goes out first.
 */
export function clientErrorListener(logger: Logger): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  /** Sockets whose refusal is under way: data after the error can make the parser report again. */
  const refusing = new WeakSet<Duplex>();
  return (err, socket) => {
    if (refusing.has(socket)) return;
    refusing.add(socket);
    logger.debug({ err }, 'malformed HTTP request refused');
    if (err.code === 'ECONNRESET') return void socket.destroy();
    const answer = () => {
      refuseOnSocket(socket, httpError(REFUSAL_OF[err.code ?? ''] ?? 'MALFORMED_REQUEST', err.message));
    };
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!inFlight || inFlight.writableFinished) return answer();
    // The earlier request is still being answered: after its response, whether it ends well or not.
    finished(inFlight, (problem) => {
      if (problem) logger.debug({ err: problem }, 'response before a malformed request did not finish');
      answer();
    });
  };
}

/**
 * The `connect` listener of the http.Server: Herald is no proxy, so a CONNECT request gets 405 with a
 * JSON body (without a listener Node would drop the connection without a word).
 */
export function refuseConnect(socket: Duplex): void {
  refuseOnSocket(socket, httpError('CONNECT_NOT_ALLOWED'), { Allow: 'GET, POST' });
}
