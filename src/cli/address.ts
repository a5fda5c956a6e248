/** Where a listener bound to `host` is reached from this machine: a wildcard address on the loopback. */
export function localHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

/** `localHost(host)` as the host part of a URL: an IPv6 address in brackets. */
export function urlHost(host: string): string {
  const local = localHost(host);
  return local.includes(':') ? `[${local}]` : local;
}
