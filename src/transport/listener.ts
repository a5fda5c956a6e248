import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as NetServer } from 'node:net';
import type { Logger } from 'pino';
import { HeraldError } from '../core/errors.js';
import { clientErrorListener, refuseConnect } from '../http/client-error.js';
import type { Router } from '../http/router.js';

export const ERR_LISTEN = 'ERR_LISTEN';

/** A listener that could not bind its address, with what to change. */
export class ListenError extends HeraldError {
  constructor(message: string) {
    super(ERR_LISTEN, message);
  }
}

/**
 * An HTTP server answering with `router`, every refusal in JSON. With `secure`, an HTTPS server whose
 * certificate is set with `setSecureContext` before it listens (its clients then speak `https://` and
 * `wss://`; a handshake that fails is logged at debug level and the socket closed).
 */
export function createListener(router: Router, logger: Logger, secure: boolean): Server {
  // The router checks Host itself so that the refusal is JSON like every other.
  const options = { keepAliveTimeout: 65_000, requireHostHeader: false };
  const server = secure
    ? createHttpsServer(options, router.listener)
    : createHttpServer(options, router.listener);
  server.on('clientError', clientErrorListener(logger));
  server.on('checkExpectation', router.expectationFailed);
  server.on('connect', (_req, socket) => refuseConnect(socket));
  if (secure) {
    server.on('tlsClientError', (err: Error, socket: { destroy(): void }) => {
      logger.debug({ err }, 'TLS handshake failed');
      socket.destroy();
    });
  }
  return server;
}

/**
 * Connections the kernel may hold for Herald to accept (it caps this at `net.core.somaxconn`, 4096 on
 * current Linux). Node's own default is 511: when every client reconnects at once (a deploy, a network
 * cut), connections past it are dropped and their clients wait out TCP's retransmission (1 s, then 3 s,
 * …) before trying again.
 */
const LISTEN_BACKLOG = 4096;

/**
 * Binds `server` to `host:port`; rejects with a `ListenError` saying what to change, and which
 * `settings` (`"host, port; --host, --port"`) give the address.
 */
export function listen(server: NetServer, port: number, host: string, settings: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(new ListenError(`cannot listen on ${address(host, port)} (${settings}): ${why(err, host)}`));
    server.once('error', onError);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Serves `server` on the listening socket `fd` that systemd passed (`name`: which of its sockets, for
 * the error); the backlog is raised as `listen` raises it. Rejects with a `ListenError`.
 */
export function listenInherited(server: NetServer, fd: number, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(
        new ListenError(`cannot listen on the inherited ${name} socket (descriptor ${fd}): ${err.message}`),
      );
    server.once('error', onError);
    server.listen({ fd, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Closes `server` and every HTTP connection it still has (others are their transport's to close);
 * resolves at once for one that never listened.
 */
export function closeListener(server: NetServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as Partial<Server>).closeAllConnections?.();
  });
}

const address = (host: string, port: number) =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

function why(err: NodeJS.ErrnoException, host: string): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'the address is in use: another process (or the other listener) listens there';
    case 'EACCES':
      return 'permission denied: a port below 1024 needs root or CAP_NET_BIND_SERVICE';
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
      return `the host name ${host} cannot be resolved`;
    default:
      return err.message;
  }
}
