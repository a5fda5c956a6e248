import { randomBytes } from 'node:crypto';
import { signRequest } from '../../protocol/pusher/auth.js';
import {
  certificateRefused,
  endpoint,
  exchange,
  handshake,
  type NetOptions,
  networkProblem,
  type Reply,
} from './net.js';
import { PusherProbe } from './pusher-client.js';
import {
  apiVerdict,
  type CheckResult,
  certificateVerdict,
  clockVerdict,
  readyVerdict,
  result,
  webhookVerdict,
} from './verdicts.js';

/** What `herald doctor` examines. */
export interface Target {
  /** The server's origin, `http:` or `https:`. */
  base: URL;
  /** The HTTP API's origin: `base`, or the admin listener's when the config has one. */
  api: URL;
  /** Where Pusher clients connect: `ws(s)://host:port<pathPrefix>/app/<key>?…`. */
  socket: URL;
  app: { id: string; key: string; secret: string };
  /** The server's `maxTimestampSkewSeconds`, as its config says. */
  maxSkewSeconds: number;
  /** Webhook receivers to reach, each once. */
  webhooks: readonly string[];
  net: NetOptions;
}

/** The event doctor publishes to its own fresh channel. */
const DOCTOR_EVENT = 'herald-doctor';

/**
 * Runs every check in order and yields each line of the verdict as soon as it is known. Never
 * rejects: a failure of the network is a `fail` line, and so is a check that broke on an answer
 * nothing here expected.
 */
export async function* diagnose(target: Target): AsyncGenerator<CheckResult> {
  const where = endpoint(target.base);
  if (target.base.protocol === 'https:') {
    yield await guarded('TLS certificate', () => certificateCheck(target, where));
  }
  const sentAt = Date.now();
  let ready: Reply | undefined;
  let unreached = '';
  try {
    ready = await exchange(new URL('/ready', target.base), { method: 'GET' }, target.net);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const [advice, why] =
      code === 'ECONNREFUSED'
        ? [
            'is Herald running? Start it (herald start) or pass the right --url',
            'the server cannot be reached',
          ]
        : certificateRefused(err)
          ? ['see the TLS certificate line', 'no trusted TLS connection']
          : ['check --url, the network and any proxy in between', 'no HTTP answer from the server'];
    unreached = why;
    yield result('server', 'fail', `${networkProblem(err, where)}: ${advice}`);
  }
  if (ready === undefined) {
    for (const name of ['clock', 'WebSocket', 'subscription', 'HTTP API', 'delivery']) {
      yield result(name, 'skip', `not checked: ${unreached}`);
    }
  } else {
    yield readyVerdict(ready, where);
    yield clockVerdict(ready.headers.date, (sentAt + Date.now()) / 2, target.maxSkewSeconds);
    yield* pusherChecks(target, where);
  }
  if (target.webhooks.length === 0) {
    yield result(
      'webhooks',
      'skip',
      'none configured: pass --config FILE or --webhook-url URL to check them',
    );
  }
  for (const url of target.webhooks) {
    yield await guarded('webhook', () => webhookCheck(url, target.net));
  }
}

/**
 * Connects as a Pusher client, subscribes to a channel of its own, publishes through the signed HTTP
 * API and waits for the event: the path every application message takes.
 */
async function* pusherChecks(target: Target, where: string): AsyncGenerator<CheckResult> {
  const { timeoutMs } = target.net;
  const channel = `herald-doctor-${randomBytes(8).toString('hex')}`;
  const data = JSON.stringify({ check: randomBytes(8).toString('hex') });
  let probe: PusherProbe | undefined;
  try {
    try {
      probe = await PusherProbe.connect(target.socket, target.app.key, where, target.net);
      yield result('WebSocket', 'ok', `connected to ${target.socket.pathname}`);
    } catch (err) {
      yield result('WebSocket', 'fail', message(err));
    }
    let subscribed = false;
    if (probe) {
      try {
        await probe.subscribe(channel, timeoutMs);
        subscribed = true;
        yield result('subscription', 'ok', `subscribed to ${channel}`);
      } catch (err) {
        yield result('subscription', 'fail', `${channel}: ${message(err)}`);
      }
    } else {
      yield result('subscription', 'skip', 'not checked: no WebSocket connection');
    }
    const publishedAt = Date.now();
    const published = await guarded('HTTP API', () => publish(target, channel, data));
    yield published;
    if (!subscribed || published.outcome !== 'ok') {
      yield result('delivery', 'skip', 'not checked: needs the subscription and the published event');
      return;
    }
    yield await guarded('delivery', async () => {
      const received = await probe!.nextEvent(channel, DOCTOR_EVENT, timeoutMs).catch((err: unknown) => {
        throw new Error(
          `${message(err)}: the HTTP API took the event but the subscriber did not get it; in a cluster, ` +
            'every node needs the same adapter (--redis-url or --nats-url) and prefix',
        );
      });
      return received === data
        ? result(
            'delivery',
            'ok',
            `the event reached the subscriber ${Date.now() - publishedAt} ms after it was published`,
          )
        : result('delivery', 'fail', 'an event arrived with other data than was published');
    });
  } finally {
    probe?.close();
  }
}

/** The certificate the server presents, whether Node trusts it or not. */
async function certificateCheck(target: Target, where: string): Promise<CheckResult> {
  try {
    const found = await handshake(target.base, target.net);
    return certificateVerdict(found, target.base.hostname.replace(/^\[(.*)\]$/, '$1'), Date.now());
  } catch (err) {
    return result('TLS certificate', 'fail', `no TLS handshake: ${networkProblem(err, where)}`);
  }
}

/** Publishes `data` to `channel` through the HTTP API, signed as the `pusher` SDKs sign. */
async function publish(target: Target, channel: string, data: string): Promise<CheckResult> {
  const path = `/apps/${encodeURIComponent(target.app.id)}/events`;
  const body = JSON.stringify({ name: DOCTOR_EVENT, channels: [channel], data });
  const query = new URLSearchParams(signRequest('POST', path, target.app, body));
  try {
    const reply = await exchange(
      new URL(`${path}?${query}`, target.api),
      { method: 'POST', headers: { 'Content-Type': 'application/json' }, body },
      target.net,
    );
    return apiVerdict(reply, target.app);
  } catch (err) {
    return result('HTTP API', 'fail', networkProblem(err, endpoint(target.api)));
  }
}

/** `HEAD <url>`: any HTTP answer shows the receiver can be reached from here. */
async function webhookCheck(url: string, net: NetOptions): Promise<CheckResult> {
  // Herald sends webhooks with Node's own trusted certificates, so --ca does not apply to them.
  const own = { timeoutMs: net.timeoutMs };
  try {
    return webhookVerdict(url, await exchange(new URL(url), { method: 'HEAD' }, own));
  } catch (err) {
    return result(
      'webhook',
      'fail',
      `${networkProblem(err, url)}: Herald retries for webhooks.retryForMs, then drops the events; ` +
        'fix the receiver or the URL',
    );
  }
}

/** Runs one check; what it throws becomes its `fail` line instead of ending the run. */
async function guarded(name: string, check: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await check();
  } catch (err) {
    return result(name, 'fail', message(err));
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
