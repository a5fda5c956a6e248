/** What a `redis+sentinel://` URL says; the shape of ioredis' own options for it. */
export interface SentinelOptions {
  sentinels: { host: string; port: number }[];
  name: string;
  username?: string;
  password?: string;
  db?: number;
  sentinelPassword?: string;
}

/**
 * `redis+sentinel://[[user]:password@]host:port[,host:port…]/<master name>[?db=N&sentinelPassword=…]`:
 * the sentinels to ask for the current master of `<master name>`. The credentials and `db` are the
 * master's; `sentinelPassword` is the sentinels' own, when they have one.
 */
const SENTINEL_URL = /^redis\+sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?]+)\/([^/?]+)\/?(?:\?(.*))?$/;

/** Thrown for an adapter URL Herald cannot use; the message names what is wrong. */
export class RedisUrlError extends Error {}

/** The connection options of a `redis+sentinel://` URL; undefined for another scheme. */
export function parseSentinelUrl(url: string): SentinelOptions | undefined {
  if (!url.startsWith('redis+sentinel:')) return undefined;
  const m = SENTINEL_URL.exec(url);
  if (!m) {
    throw new RedisUrlError(
      `"${url}" is not redis+sentinel://[[user]:password@]host:port[,host:port…]/<master name>`,
    );
  }
  const [, user, password, hosts, name, query] = m;
  const sentinels = hostPorts(hosts!, url, 26379);
  const params = new URLSearchParams(query ?? '');
  const options: SentinelOptions = { sentinels, name: decodeURIComponent(name!) };
  if (user) options.username = decodeURIComponent(user);
  if (password) options.password = decodeURIComponent(password);
  const db = params.get('db');
  if (db !== null) {
    if (!/^\d+$/.test(db)) throw new RedisUrlError(`db "${db}" in "${url}" is not a number`);
    options.db = Number(db);
  }
  const sentinelPassword = params.get('sentinelPassword');
  if (sentinelPassword !== null) options.sentinelPassword = sentinelPassword;
  return options;
}

/** What a `redis+cluster://` URL says: the nodes to start from, and the credentials of every node. */
export interface ClusterUrlOptions {
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
}

/**
 * `redis+cluster://[[user]:password@]host:port[,host:port…]`: any nodes of a Redis Cluster (the client
 * learns the others from them); undefined for another scheme.
 */
export function parseClusterUrl(url: string): ClusterUrlOptions | undefined {
  if (!url.startsWith('redis+cluster:')) return undefined;
  const m = CLUSTER_URL.exec(url);
  if (!m) throw new RedisUrlError(`"${url}" is not redis+cluster://[[user]:password@]host:port[,host:port…]`);
  const [, user, password, hosts] = m;
  const options: ClusterUrlOptions = { nodes: hostPorts(hosts!, url, 6379) };
  if (user) options.username = decodeURIComponent(user);
  if (password) options.password = decodeURIComponent(password);
  return options;
}

const CLUSTER_URL = /^redis\+cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?]+)\/?$/;

/** `host:port,host:port…`, a port left out being `defaultPort`. */
function hostPorts(hosts: string, url: string, defaultPort: number): { host: string; port: number }[] {
  return hosts.split(',').map((hostPort) => {
    const at = hostPort.lastIndexOf(':');
    const bracketed = hostPort.endsWith(']');
    const host = at > 0 && !bracketed ? hostPort.slice(0, at) : hostPort;
    const port = at > 0 && !bracketed ? Number(hostPort.slice(at + 1)) : defaultPort;
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RedisUrlError(`"${hostPort}" in "${url}" is not host:port`);
    }
    return { host: host.replace(/^\[|\]$/g, ''), port };
  });
}
