/**
 * A TCP socket held the way systemd holds a socket unit's: bound here, passed to each Herald process as
 * descriptor 3, and kept open across their restarts. This process only binds it: the first Herald
 * puts it in the listening state (`listen(2)` on the shared socket), and from then on it listens for as
 * long as this process holds it, so connections made while no Herald runs wait in its queue. A
 * `net.Server` would not do: it accepts (and so takes away) the connections meant for Herald.
 */

interface TcpHandle {
  bind(host: string, port: number): number;
  getsockname(out: { port?: number }): number;
  close(): void;
  readonly fd: number;
}

type TcpWrap = { TCP: new (type: number) => TcpHandle; constants: { SERVER: number } };

export interface HeldSocket {
  readonly fd: number;
  readonly port: number;
  close(): void;
}

/** Binds a TCP socket to `host:port` (0: a free port) without accepting on it; throws when it cannot. */
export function holdSocket(host: string, port = 0): HeldSocket {
  // Node has no public API for a socket that is bound but not accepted from.
  const { TCP, constants } = (process as unknown as { binding(name: string): TcpWrap }).binding('tcp_wrap');
  const handle = new TCP(constants.SERVER);
  const err = handle.bind(host, port);
  const out: { port?: number } = {};
  handle.getsockname(out);
  // libuv may leave a bind that failed (the address in use) unbound and report it at listen only.
  if (err !== 0 || !out.port || (port !== 0 && out.port !== port)) {
    handle.close();
    throw new Error(`cannot bind ${host}:${port} (error ${err}): the address is in use`);
  }
  return { fd: handle.fd, port: out.port!, close: () => handle.close() };
}

/**
 * Runs `command args…` under `sh` so that it gets `LISTEN_PID` as its own pid (`exec` keeps it), as
 * systemd sets it, unless `LISTEN_PID` is set already: for `spawn` with the held sockets from
 * descriptor 3 on and `LISTEN_FDS` their count.
 */
export const ACTIVATED_SH = [
  '-c',
  'test -n "$LISTEN_PID" || LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"',
] as const;
