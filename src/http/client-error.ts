import type { Duplex } from 'node:stream';
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
 * and the connection is closed.
 */
export function clientErrorListener(logger: Logger): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, socket) => {
    logger.debug({ err }, 'malformed HTTP request refused');
    const sent = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (err.code === 'ECONNRESET' || !socket.writable || sent) return void socket.destroy();
    const [status, text] = STATUS_OF[err.code ?? ''] ?? [400, 'Bad Request'];
    const body = JSON.stringify({ error: `Malformed HTTP request: ${err.message}` });
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    socket.once('finish', () => socket.destroy());
  };
}
