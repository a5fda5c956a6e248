import type { Duplex } from 'node:stream';
import type { HttpError } from './errors.js';

/** Reason phrases of the statuses refused on a raw socket (RFC 9110 section 15). */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Writes a whole response for `err` with a JSON `{"error"}` body on a raw socket (a WebSocket upgrade
 * refused before it happens, a request Node's parser refused, a CONNECT), then closes the socket.
 */
export function refuseOnSocket(
  socket: Duplex,
  err: HttpError,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify({ error: err.message });
  const text = STATUS_TEXT[err.status] ?? 'Error';
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  // http.Server removes its own error listener from upgraded sockets: a client resetting the
  // connection (ECONNRESET) would otherwise be an uncaught error.
  socket.on('error', () => socket.destroy());
  // Once the answer is out the socket goes, whether or not the client closes its side.
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${err.status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\n${extra}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
