import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { finished } from 'node:stream';
import type { Logger } from 'pino';

/** Parser errors with their own status; every other one is a 400. */
const STATUS_OF: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
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
      const [status, text] = STATUS_OF[err.code ?? ''] ?? [400, 'Bad Request'];
      endWithJson(socket, status, text, `Malformed HTTP request: ${err.message}`);
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
  socket.on('error', () => socket.destroy());
  endWithJson(socket, 405, 'Method Not Allowed', 'Method CONNECT not allowed', 'Allow: GET, POST\r\n');
}

/** Writes a whole response with a JSON `{"error"}` body on a raw socket, then closes it. */
function endWithJson(socket: Duplex, status: number, text: string, message: string, headers = ''): void {
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify({ error: message });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\n${headers}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
