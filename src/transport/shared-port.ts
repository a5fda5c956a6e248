import type { Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { RawSocketTransport } from './rawsocket.js';
import { RAWSOCKET_MAGIC } from './rawsocket-framing.js';

/**
 * How long a new connection may stay silent before it goes to the HTTP server all the same, which then
 * applies its own timeouts (a client of either protocol speaks first, at once).
 */
const FIRST_BYTE_WAIT_MS = 10_000;

/**
 * One port for HTTP (WebSocket included) and RawSocket, as Crossbar.io's universal transport: a
 * client's first byte is 0x7F for RawSocket, which no HTTP request starts with (WAMP spec, RawSocket
 * Transport); any other goes to the HTTP server as though the connection had come straight to it. With
 * TLS the byte is read once the TLS handshake is done, so RawSocket runs over TLS on that port.
 *
 * The HTTP server's own listener of new connections is taken off and called for the connections that
 * are HTTP, the byte read put back first; the server listens, counts and closes its connections as
 * before.
 */
export class SharedPort {
  /** Connections whose first byte has not come yet. */
  readonly #waiting = new Set<Socket>();

  constructor(server: Server, secure: boolean, raw: RawSocketTransport, logger: Logger) {
    const event = secure ? 'secureConnection' : 'connection';
    const http = server.listeners(event) as ((socket: Socket) => void)[];
    server.removeAllListeners(event);
    server.on(event, (socket: Socket) => {
      this.#waiting.add(socket);
      const onError = (err: Error) => logger.debug({ err }, 'connection error before its first byte');
      const handOver = (chunk: Buffer | undefined) => {
        clearTimeout(timer);
        socket.off('data', handOver);
        socket.off('error', onError);
        socket.off('close', forget);
        this.#waiting.delete(socket);
        if (chunk !== undefined && chunk[0] === RAWSOCKET_MAGIC) return raw.accept(socket, chunk);
        socket.pause();
        if (chunk !== undefined) socket.unshift(chunk);
        for (const listener of http) listener.call(server, socket);
        socket.resume();
      };
      const forget = () => {
        clearTimeout(timer);
        this.#waiting.delete(socket);
      };
      const timer = setTimeout(() => handOver(undefined), FIRST_BYTE_WAIT_MS);
      socket.on('error', onError);
      socket.on('close', forget);
      socket.once('data', handOver);
    });
  }

  /** Cuts the connections still silent: the server is closing, and would otherwise wait for them. */
  close(): void {
    for (const socket of this.#waiting) socket.destroy();
  }
}
