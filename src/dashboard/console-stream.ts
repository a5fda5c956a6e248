import type { ServerResponse } from 'node:http';
import type { DebugFeed, DebugWatcher, WatchOptions } from '../core/debug-feed.js';
import type { HttpResult } from '../http/router.js';

export interface ConsoleStreamOptions {
  /** How often a comment line keeps the stream (and proxies on the way) from going idle. @default 15000 */
  heartbeatMs?: number;
  /** The watcher's queue bound and rate cap. @default DebugFeed.watch's */
  watch?: Omit<WatchOptions, 'onReady'>;
  /**
   * Ends the stream after this many milliseconds: what is left of the session that opened it, so
   * that an operator keeps watching only as long as signed in. @default never
   */
  endsInMs?: number;
}

/** The longest delay a Node timer takes (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Serves the debug console of `namespace` (`pusher:<appId>`, `wamp:<realm>`) on `res` as Server-Sent
 * Events (HTML Living Standard, "Server-sent events"): one `data:` line of JSON per event or
 * `{"type":"dropped","count":n}` marker, and a comment line every `heartbeatMs`. Events are written
 * in batches, one write per event-loop turn; while the client does not read, nothing more is written
 * and the watcher's queue drops what does not fit (the client then gets a marker). The watcher is
 * closed when the response closes, or when the stream ends after `endsInMs`. Authorization is the
 * caller's: this serves whoever it is given.
 */
export function streamConsole(
  feed: DebugFeed,
  namespace: string,
  res: ServerResponse,
  options: ConsoleStreamOptions = {},
): DebugWatcher {
  let scheduled: NodeJS.Immediate | undefined;
  let blocked = false;
  const flush = () => {
    scheduled = undefined;
    if (blocked || res.destroyed) return;
    const items = watcher.take();
    if (items.length === 0) return;
    let text = '';
    for (const item of items) text += `data: ${JSON.stringify(item)}\n\n`;
    if (!res.write(text)) blocked = true;
  };
  const watcher = feed.watch(namespace, {
    ...options.watch,
    onReady: () => {
      scheduled ??= setImmediate(flush);
    },
  });
  res.on('drain', () => {
    blocked = false;
    flush();
  });
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    // nginx buffers proxied answers unless told not to; a console that arrives in lumps is no console.
    'X-Accel-Buffering': 'no',
  });
  // A first line at once, so that the client sees the stream open before the first event.
  res.write(': watching\n\n');
  const heartbeat = setInterval(() => {
    if (!blocked) res.write(': heartbeat\n\n');
  }, options.heartbeatMs ?? 15_000);
  heartbeat.unref();
  let ending: NodeJS.Timeout | undefined;
  const stop = () => {
    clearInterval(heartbeat);
    clearTimeout(ending);
    if (scheduled) clearImmediate(scheduled);
    watcher.close();
  };
  res.once('close', stop);
  // Ends in steps a timer can take: a session may last longer than one.
  let left = Math.max(0, options.endsInMs ?? Number.POSITIVE_INFINITY);
  const endLater = () => {
    const step = Math.min(left, MAX_TIMER_MS);
    left -= step;
    ending = setTimeout(() => {
      if (left > 0) return endLater();
      stop();
      res.end();
    }, step);
    ending.unref();
  };
  if (Number.isFinite(left)) endLater();
  return watcher;
}

/** The router's answer that serves the console of `namespace` (see `streamConsole`). */
export function consoleStreamResult(
  feed: DebugFeed,
  namespace: string,
  options: ConsoleStreamOptions = {},
): HttpResult {
  return { status: 200, body: null, stream: (res) => void streamConsole(feed, namespace, res, options) };
}
