import { fstatSync } from 'node:fs';
import { HeraldError } from '../core/errors.js';

export const ERR_ACTIVATION = 'ERR_ACTIVATION';

/** `LISTEN_*` variables Herald cannot use, with what is wrong. */
export class ActivationError extends HeraldError {
  constructor(message: string) {
    super(ERR_ACTIVATION, message);
  }
}

/**
 * The listening sockets systemd passed (socket activation, `herald.socket`), as file descriptors: the
 * public listener's, and the admin and RawSocket listeners' when named so.
 */
export interface InheritedSockets {
  public: number;
  admin?: number;
  rawsocket?: number;
}

/** The first descriptor systemd passes (`SD_LISTEN_FDS_START`). */
const FIRST_FD = 3;
const VARIABLES = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'] as const;

/**
 * The sockets of systemd socket activation (sd_listen_fds(3)): `LISTEN_FDS` of them from descriptor 3,
 * named by `LISTEN_FDNAMES` (colon-separated). Variables meant for another process (`LISTEN_PID` set
 * and not `pid`) are ignored, as are absent ones: undefined then. The public listener takes the
 * socket named `public` or `herald`, else the first; `admin` and `rawsocket` name the other two.
 * Throws an `ActivationError` for a count that is not a number or a descriptor that is not a socket.
 */
export function inheritedSockets(env: NodeJS.ProcessEnv, pid: number): InheritedSockets | undefined {
  const { LISTEN_FDS: count, LISTEN_PID: forPid, LISTEN_FDNAMES: names } = env;
  if (count === undefined || (forPid !== undefined && forPid !== String(pid))) return undefined;
  if (!/^[0-9]+$/.test(count) || Number(count) < 1 || Number(count) > 64) {
    throw new ActivationError(
      `LISTEN_FDS is "${count}": socket activation needs a count of sockets, 1 or more`,
    );
  }
  const fds = Array.from({ length: Number(count) }, (_, i) => FIRST_FD + i);
  for (const fd of fds) {
    let socket = false;
    try {
      socket = fstatSync(fd).isSocket();
    } catch {
      // Not open: said below.
    }
    if (!socket) {
      throw new ActivationError(
        `LISTEN_FDS is ${count} but descriptor ${fd} is not a socket: start Herald from its socket unit`,
      );
    }
  }
  const named = (names ?? '').split(':');
  const fd = (...wanted: string[]) => {
    const i = named.findIndex((n) => wanted.includes(n));
    return i >= 0 && i < fds.length ? fds[i] : undefined;
  };
  const admin = fd('admin');
  const rawsocket = fd('rawsocket');
  return {
    public: fd('public', 'herald') ?? fds.find((f) => f !== admin && f !== rawsocket) ?? FIRST_FD,
    ...(admin === undefined ? {} : { admin }),
    ...(rawsocket === undefined ? {} : { rawsocket }),
  };
}

/** Removes the `LISTEN_*` variables: the processes Herald starts must not take the sockets as theirs. */
export function forgetActivation(env: NodeJS.ProcessEnv): void {
  for (const name of VARIABLES) delete env[name];
}
