import { BlockList, isIP } from 'node:net';

/**
 * The address a connection comes from, for limits per address. Behind a reverse proxy (nginx, a load
 * balancer) every socket comes from the proxy, which names the client in `X-Forwarded-For`; that
 * header is believed only when the socket's peer is a trusted proxy, and then the right-most address
 * not itself a trusted proxy is the client (anything left of it was written by the client and can be
 * forged, see MDN, "X-Forwarded-For": "Selecting an IP address").
 */
export class ClientAddresses {
  readonly #trusted = new BlockList();
  readonly #anyTrusted: boolean;

  /** `trustedProxies`: addresses or CIDR ranges (`10.0.0.0/8`, `::1`, `fd00::/8`). */
  constructor(trustedProxies: readonly string[]) {
    for (const entry of trustedProxies) {
      const [address, bits] = entry.split('/');
      const family = isIP(address ?? '') === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.#trusted.addAddress(normalize(address!), family);
      else this.#trusted.addSubnet(normalize(address!), Number(bits), family);
    }
    this.#anyTrusted = trustedProxies.length > 0;
  }

  /** The client's address for a socket from `peer` that carried `forwardedFor` (the header's value). */
  of(peer: string, forwardedFor: string | string[] | undefined): string {
    const address = normalize(peer);
    if (!this.#anyTrusted || forwardedFor === undefined || !this.#isTrusted(address)) return address;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let client = address;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalize(hops[i]!.trim());
      if (isIP(hop) === 0) break; // garbage: stop at the last address we could read
      client = hop;
      if (!this.#isTrusted(hop)) break;
    }
    return client;
  }

  #isTrusted(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    return this.#trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** IPv4 addresses as dual-stack sockets report them (`::ffff:127.0.0.1`) are read as IPv4. */
function normalize(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** Whether `entry` is an address or CIDR range `ClientAddresses` accepts (for the config schema). */
export function isAddressOrRange(entry: string): boolean {
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 6 ? 128 : 32);
}
