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
  const sentinels = hosts!.split(',').map((hostPort) => {
    const at = hostPort.lastIndexOf(':');
    const host = at > 0 ? hostPort.slice(0, at) : hostPort;
    const port = at > 0 ? Number(hostPort.slice(at + 1)) : 26379;
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RedisUrlError(`"${hostPort}" in "${url}" is not host:port`);
    }
    return { host: host.replace(/^\[|\]$/g, ''), port };
  });
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
