import { ClientAddresses } from '../core/client-address.js';
import type { LimitName, LimitRefusals } from '../core/limit-refusals.js';
import { type HttpError, HttpErrors, httpError } from '../http/errors.js';
import { AddressLimits } from './address-limits.js';

export interface ConnectionLimitsOptions {
  /** Open connections on this server, WebSocket (both protocols) and RawSocket; null for no limit. */
  maxConnections: number | null;
  /** Open connections one client address may hold; null for no limit. */
  maxConnectionsPerAddress: number | null;
  /** New connections per second one client address may open; null for no limit. */
  connectionRatePerAddress: { perSecond: number; burst: number } | null;
  /** Reverse proxies whose `X-Forwarded-For` names the client. */
  trustedProxies: readonly string[];
  /** The memory ceiling: a sampled getter, cheap to ask on every upgrade. */
  memory: { readonly over: boolean };
  refusals: LimitRefusals;
  /** Milliseconds, for the rate. @default performance.now */
  now?: () => number;
}

/** What the limits read of a connection: its socket's peer and, behind a trusted proxy, the header naming the client. */
export interface Admission {
  readonly socket: { readonly remoteAddress?: string | undefined };
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** An upgrade refused before it happens: answered over HTTP with a JSON `{"error"}` body. */
export interface UpgradeRefusal {
  readonly limit: LimitName;
  readonly status: number;
  readonly message: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The same refusal as thrown elsewhere: `ERR_HTTP_SERVER_FULL` and the others below. */
  readonly error: HttpError;
}

/**
 * How long a client turned away because the server is full or over memory should wait: long enough
 * for connections to close or memory to be sampled again (every 250 ms), short enough that a client
 * which honours it is not kept away once there is room.
 */
const BUSY_RETRY_AFTER_SECONDS = 5;

/**
 * The limits checked on every WebSocket upgrade before it happens (README, "Configuration";
 * docs/security.md, "Connections"), in this order: the server's `maxConnections` (503), its memory
 * ceiling (503), the client address's open connections (429) and its rate of new ones (429). Each
 * refusal is counted in `herald_limit_refusals_total`. With the per-address limits off, an upgrade
 * costs a comparison and the memory getter: the client's address is not even worked out.
 */
export class ConnectionLimits {
  readonly #max: number | null;
  readonly #memory: { readonly over: boolean };
  readonly #refusals: LimitRefusals;
  readonly #addresses: ClientAddresses;
  readonly #perAddress: AddressLimits | null;
  readonly #refused: Readonly<Record<'full' | 'memory' | 'connections' | 'rate', UpgradeRefusal>>;
  /** Connections `opened` and not yet `closed`, every transport's. */
  #open = 0;

  constructor(options: ConnectionLimitsOptions) {
    this.#max = options.maxConnections;
    this.#memory = options.memory;
    this.#refusals = options.refusals;
    this.#addresses = new ClientAddresses(options.trustedProxies);
    const rate = options.connectionRatePerAddress;
    this.#perAddress =
      options.maxConnectionsPerAddress === null && rate === null
        ? null
        : new AddressLimits({
            maxConnectionsPerAddress: options.maxConnectionsPerAddress,
            ratePerSecond: rate?.perSecond ?? null,
            burst: rate?.burst ?? 1,
            ...(options.now ? { now: options.now } : {}),
          });
    const busy = { 'Retry-After': String(BUSY_RETRY_AFTER_SECONDS) };
    this.#refused = {
      full: refusal('max_connections', 'SERVER_FULL', busy),
      memory: refusal('memory', 'OVER_MEMORY', busy),
      // Waiting does not help here: one of the address's own connections has to close first.
      connections: refusal('connections_per_address', 'TOO_MANY_CONNECTIONS', {}),
      // The time one more connection's allowance takes to come back.
      rate: refusal('connection_rate_per_address', 'CONNECTION_RATE', {
        'Retry-After': String(Math.ceil(1 / (rate?.perSecond ?? 1))),
      }),
    };
  }

  /**
   * Whether a connection may open while `open` connections are (by default those `opened` and not
   * `closed`). Returns the refusal (counted) or the client's address, to hand to `opened` and `closed`;
   * the address is `''` when no limit counts connections per address, so there is nothing to free.
   */
  admit(req: Admission, open = this.#open): UpgradeRefusal | string {
    if (this.#max !== null && open >= this.#max) return this.#refuse(this.#refused.full);
    if (this.#memory.over) return this.#refuse(this.#refused.memory);
    const perAddress = this.#perAddress;
    if (perAddress === null) return '';
    const address = this.#addresses.of(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for']);
    const refused = perAddress.admit(address);
    if (refused !== undefined) return this.#refuse(this.#refused[refused]);
    return address;
  }

  /** A connection from `address` (from `admit`) is open. */
  opened(address: string): void {
    this.#open++;
    if (address !== '') this.#perAddress?.opened(address);
  }

  /** The connection `opened` counted has closed, however it closed. */
  closed(address: string): void {
    this.#open--;
    if (address !== '') this.#perAddress?.closed(address);
  }

  #refuse(r: UpgradeRefusal): UpgradeRefusal {
    this.#refusals.count(r.limit);
    return r;
  }
}

/** The refusals of the connection limits, made once each. */
type LimitRefusal = 'SERVER_FULL' | 'OVER_MEMORY' | 'TOO_MANY_CONNECTIONS' | 'CONNECTION_RATE';

function refusal(limit: LimitName, name: LimitRefusal, headers: Record<string, string>): UpgradeRefusal {
  const error = httpError(name);
  const status = HttpErrors[name].status;
  return Object.freeze({ limit, status, message: error.message, headers: Object.freeze(headers), error });
}
