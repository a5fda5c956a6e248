import { AppStoreUnavailable } from '../core/apps/app.js';

/**
 * Turning a database driver's failures into `AppStoreUnavailable` with a message an operator can act
 * on, shared by the PostgreSQL and MySQL stores, and the deadline every lookup runs under.
 */

/** `PostgreSQL at db.internal:5432`: the server a store talks to, as its messages name it. */
export function serverName(product: string, url: string, defaultPort: number): string {
  try {
    const { hostname, port } = new URL(url);
    return hostname ? `${product} at ${hostname}:${port || defaultPort}` : product;
  } catch {
    // The driver says what is wrong with the URL when it connects; the name does without it.
    return product;
  }
}

/** Network failures as Node names them, the same under both drivers. */
const NETWORK: Record<string, string> = {
  ECONNREFUSED: 'refused the connection',
  ECONNRESET: 'dropped the connection',
  EPIPE: 'dropped the connection',
  ETIMEDOUT: 'did not answer in time',
  EHOSTUNREACH: 'is unreachable',
  ENETUNREACH: 'is unreachable',
  ENOTFOUND: 'has a host name that does not resolve',
  EAI_AGAIN: 'has a host name that does not resolve (yet)',
};

/** What a driver's own codes mean, as `NETWORK` does for Node's. */
export type Phrases = (err: { code?: unknown; message: string }) => string | undefined;

/**
 * `err` as `AppStoreUnavailable`: `PostgreSQL at 127.0.0.1:5432 refused the connection
 * (ECONNREFUSED): connect ECONNREFUSED 127.0.0.1:5432`. The driver's error stays as the cause.
 */
export function unavailable(server: string, err: unknown, phrases: Phrases): AppStoreUnavailable {
  if (err instanceof AppStoreUnavailable) return err;
  const error: Error & { code?: unknown } = err instanceof Error ? err : new Error(String(err));
  const code = typeof error.code === 'string' || typeof error.code === 'number' ? String(error.code) : '';
  const phrase = phrases(error) ?? NETWORK[code] ?? 'failed';
  const message = `${server} ${phrase}${code ? ` (${code})` : ''}: ${error.message}`;
  return new AppStoreUnavailable(message, { cause: err });
}

/**
 * `work`'s result, or `timedOut()` thrown once `ms` have passed: the bound on a lookup whatever the
 * driver is waiting for (a pool's queue has no deadline of its own). The work itself goes on; its
 * outcome is dropped.
 */
export async function bounded<T>(work: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    // A late failure of abandoned work must not surface as an unhandled rejection.
    work.catch(() => {});
  }
}

/**
 * `work` bounded as a lookup with the driver's `timeoutMs` (connecting and one statement, each with
 * that timeout, and a second more): past it, `AppStoreUnavailable` naming `server`, after `onTimeout`.
 */
export function boundedLookup<T>(
  work: Promise<T>,
  server: string,
  timeoutMs: number,
  onTimeout?: () => void,
): Promise<T> {
  const ms = 2 * timeoutMs + 1000;
  return bounded(work, ms, () => {
    onTimeout?.();
    return new AppStoreUnavailable(`${server} did not answer within ${ms} ms`);
  });
}
