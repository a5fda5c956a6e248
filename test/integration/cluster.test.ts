import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import PusherServer from 'pusher';
import { type AutobahnSession, autobahn, closeAutobahn, openAutobahn } from '../helpers/autobahn.js';
import {
  brokerSkip,
  deleteRedisPrefix,
  destroyNatsBuckets,
  NATS_URL,
  outboxEntries,
  PrivateBroker,
  REDIS_URL,
  RedisClusterSet,
  SentinelSet,
  uniquePrefix,
} from '../helpers/brokers.js';
import { APP, sdkAuthorizer } from '../helpers/herald.js';
import { type Channel, type PresenceChannel, Pusher } from '../helpers/pusher-js.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { RawWampClient } from '../helpers/wamp-client.js';
import { type Responder, WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * Herald as a cluster of real processes (`bin/herald.js start`) sharing Redis, and again sharing NATS:
 * presence, publishing and the HTTP API seen the same from every node (ARCHITECTURE.md "Cluster
 * correctness"), a node killed mid-session, and the broker itself restarted mid-session.
 */

const BIN = fileURLToPath(new URL('../../../bin/herald.js', import.meta.url));
const GUARD_MS = 15_000;

type Driver = 'redis' | 'nats';

interface Timings {
  heartbeatMs: number;
  nodeTimeoutMs: number;
  requestTimeoutMs: number;
}

interface LogRecord {
  msg: string;
  [field: string]: unknown;
}

/** One `herald start` process. */
class Node {
  readonly logs: LogRecord[] = [];
  readonly #logEvents = new EventEmitter();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly sdk: PusherServer;
  readonly #clients: Pusher[] = [];

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly port: number,
    logs: LogRecord[],
    logEvents: EventEmitter,
  ) {
    this.logs = logs;
    this.#logEvents = logEvents;
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null)
        resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    this.sdk = new PusherServer({
      appId: APP.id,
      key: APP.key,
      secret: APP.secret,
      host: '127.0.0.1',
      port: String(port),
      useTLS: false,
    });
  }

  /** Spawns `herald start` and resolves once it printed the port it listens on. */
  static async start(name: string, args: string[], env: Record<string, string>): Promise<Node> {
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_') && k !== 'NODE_TEST_CONTEXT'),
    );
    const child = spawn(process.execPath, [BIN, 'start', '--host', '127.0.0.1', '--port', '0', ...args], {
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs: LogRecord[] = [];
    const logEvents = new EventEmitter();
    let pending = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{')) continue; // the connection hint for humans
        const record = JSON.parse(line) as LogRecord;
        logs.push(record);
        if (process.env.HERALD_TEST_LOG) process.stderr.write(`[${name}] ${line}\n`);
        logEvents.emit('log', record);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const listening = new Promise<number>((resolve, reject) => {
      const onLog = (r: LogRecord) => {
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(r.msg);
        if (m) resolve(Number(m[1]));
      };
      logEvents.on('log', onLog);
      child.once('exit', (code) =>
        reject(new Error(`${name} exited (${code}) before listening\n${stderr}\n${JSON.stringify(logs)}`)),
      );
    });
    const port = await within(listening, GUARD_MS, `${name} to listen`);
    return new Node(name, child, port, logs, logEvents);
  }

  /** Resolves with the first log record from index `since` on that matches. */
  log(match: (r: LogRecord) => boolean, what: string, since = 0): Promise<LogRecord> {
    const seen = this.logs.slice(since).find(match);
    if (seen) return Promise.resolve(seen);
    const found = new Promise<LogRecord>((resolve) => {
      const listener = (r: LogRecord) => {
        if (!match(r)) return;
        this.#logEvents.off('log', listener);
        resolve(r);
      };
      this.#logEvents.on('log', listener);
    });
    return within(found, GUARD_MS, `${this.name}: ${what}`);
  }

  /** A pusher-js client of this node; presence channels sign in as `userId`. */
  client(userId?: string): Pusher {
    const client = new Pusher(APP.key, {
      wsHost: '127.0.0.1',
      wsPort: this.port,
      forceTLS: false,
      enabledTransports: ['ws'],
      cluster: '',
      ...sdkAuthorizer(this.sdk, () => ({ user_id: userId ?? 'anonymous', user_info: { name: userId } })),
    });
    this.#clients.push(client);
    return client;
  }

  /** A signed GET of the HTTP API (path below `/apps/<id>`), as JSON. */
  async get<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const response = await this.sdk.get({ path, params });
    assert.equal(response.status, 200, `${this.name} GET ${path}`);
    return (await response.json()) as T;
  }

  disconnectClients(): void {
    for (const c of this.#clients) c.disconnect();
  }

  /**
   * SIGTERM (graceful) unless told otherwise; resolves once the process is gone, then stops this
   * node's clients from reconnecting. The clients stay connected until the signal: a SIGKILL must
   * find them there.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    try {
      await within(this.exited, GUARD_MS, `${this.name} to exit on ${signal}`);
    } catch (err) {
      this.child.kill('SIGKILL'); // gone either way; the hang is reported
      await this.exited;
      throw err;
    } finally {
      this.disconnectClients();
    }
  }
}

/** Stops every node; all are gone afterwards even when one hangs (then reported by throwing). */
async function stopAll(nodes: Node[]): Promise<void> {
  const results = await Promise.allSettled(nodes.map((n) => n.stop()));
  const failure = results.find((r) => r.status === 'rejected');
  if (failure) throw failure.reason;
}

/** Everything one channel of one pusher-js client received. */
class Watch {
  readonly events: { event: string; data: unknown }[] = [];
  readonly #emitter = new EventEmitter();

  constructor(
    readonly name: string,
    readonly client: Pusher,
    readonly channel: Channel,
  ) {
    channel.bind_global((event: string, data: unknown) => {
      this.events.push({ event, data });
      this.#emitter.emit('event');
    });
  }

  /** Resolves with the data of the first event named `event` (already received or not) that matches. */
  next<T>(event: string, match: (data: T) => boolean = () => true): Promise<T> {
    const find = () => this.events.find((e) => e.event === event && match(e.data as T));
    const seen = find();
    if (seen) return Promise.resolve(seen.data as T);
    const arrived = new Promise<T>((resolve) => {
      const listener = () => {
        const e = find();
        if (!e) return;
        this.#emitter.off('event', listener);
        resolve(e.data as T);
      };
      this.#emitter.on('event', listener);
    });
    return within(arrived, GUARD_MS, `${this.name}: ${event}`);
  }

  all<T>(event: string): T[] {
    return this.events.filter((e) => e.event === event).map((e) => e.data as T);
  }

  /** User ids of member events of one kind, in arrival order. */
  members(event: 'pusher:member_added' | 'pusher:member_removed'): string[] {
    return this.all<{ id: string }>(event).map((m) => m.id);
  }
}

/** Subscribes and resolves once `pusher:subscription_succeeded` arrived. */
async function subscribed(client: Pusher, channel: string, name: string): Promise<Watch> {
  const watch = new Watch(name, client, client.subscribe(channel));
  await watch.next('pusher:subscription_succeeded');
  return watch;
}

const presenceIds = (watch: Watch) => {
  const ids: string[] = [];
  (watch.channel as PresenceChannel).members.each((m: { id: string }) => ids.push(m.id));
  return ids.sort();
};

/**
 * Triggers one `barrier` event through every node and waits until every watch got all of them. Each
 * node's messages reach each subscriber in the order the node sent them, so whatever a node published
 * before its barrier has arrived by then.
 */
async function barrier(nodes: Node[], channel: string, watches: Watch[]): Promise<void> {
  const tag = randomUUID();
  for (const n of nodes) await n.sdk.trigger(channel, 'barrier', { tag, node: n.name });
  await Promise.all(
    watches.flatMap((w) =>
      nodes.map((n) =>
        w.next<{ tag: string; node: string }>('barrier', (d) => d.tag === tag && d.node === n.name),
      ),
    ),
  );
}

interface ClusterOptions {
  driver: Driver;
  url: string;
  prefix: string;
  /** The adapter's timings; Herald's defaults when absent. */
  timings?: Timings;
  webhookUrl?: string;
  webhookEvents?: string[];
  vacateDelayMs?: number;
  count?: number;
  /** More settings of the test app. */
  appFields?: Record<string, unknown>;
}

/**
 * Starts the nodes one after the other and waits until each knows all the others. The last node gets
 * its broker through `--redis-url`/`--nats-url` instead of the environment.
 */
/** The environment of a node: the test app, the cluster's prefix and timings, the webhook if any. */
function nodeEnv(options: Omit<ClusterOptions, 'driver' | 'url' | 'count'>): Record<string, string> {
  const { prefix, timings, webhookUrl } = options;
  const events = options.webhookEvents ?? ['member_removed', 'channel_vacated'];
  const app = {
    ...APP,
    clientEvents: true,
    watchlistEvents: true,
    ...(webhookUrl ? { webhooks: [{ url: webhookUrl, events }] } : {}),
    ...options.appFields,
  };
  return {
    HERALD_LOG_LEVEL: 'info',
    HERALD_APPS: JSON.stringify([app]),
    HERALD_ADAPTER_PREFIX: prefix,
    ...(timings
      ? {
          HERALD_ADAPTER_HEARTBEAT_MS: String(timings.heartbeatMs),
          HERALD_ADAPTER_NODE_TIMEOUT_MS: String(timings.nodeTimeoutMs),
          HERALD_ADAPTER_REQUEST_TIMEOUT_MS: String(timings.requestTimeoutMs),
          HERALD_WEBHOOKS_VACATE_DELAY_MS: String(options.vacateDelayMs ?? 0),
        }
      : {}),
    HERALD_WAMP_REALMS: JSON.stringify([{ name: 'realm1', roles: WAMP_TRUSTED_ROLES }]),
  };
}

/**
 * realm1 as by default (anonymous may do anything), plus the kill procedures and peer addresses,
 * which need a rule that names `wamp.` (docs/wamp.md, "Authorization").
 */
const WAMP_TRUSTED_ROLES = [
  {
    name: 'anonymous',
    permissions: [
      { uri: '*', allow: { call: true, register: true, publish: true, subscribe: true } },
      { uri: 'wamp.session.*', allow: { call: true, subscribe: true } },
    ],
  },
];

async function startCluster(options: ClusterOptions): Promise<Node[]> {
  const { driver, url, count = 3 } = options;
  const env = nodeEnv(options);
  const nodes: Node[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const viaFlag = i === count;
      const args = viaFlag ? [`--${driver}-url`, url] : [];
      const nodeEnv = viaFlag ? env : { ...env, HERALD_ADAPTER_DRIVER: driver, HERALD_ADAPTER_URL: url };
      nodes.push(await Node.start(`node${i}`, args, nodeEnv));
    }
    await Promise.all(
      nodes.map(async (n) => {
        const up = new Set<string>();
        await n.log(
          (r) => {
            if (r.msg === 'node up') up.add(r.node as string);
            return up.size === count - 1;
          },
          `to see its ${count - 1} peers`,
        );
      }),
    );
    return nodes;
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.stop())); // the start failure is the error to report
    throw err;
  }
}

/** Resolves once `check` (a question to a broker, say) answers true; asks again until then. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  await within(
    (async () => {
      while (!(await check()));
    })(),
    GUARD_MS,
    what,
  );
}

/** An autobahn-js session on `node`'s WAMP route, realm1. */
const openWamp = (node: Node) => openAutobahn({ url: `ws://127.0.0.1:${node.port}/ws`, realm: 'realm1' });

/** For `assert.rejects`: the call or registration failed with WAMP error `uri`. */
const wampError = (uri: string) => (err: { error?: string }) => {
  assert.equal(err.error, uri);
  return true;
};

/** Runs `body` on a cluster of its own; the clients it puts in `raws` are closed afterwards. */
async function withOwnCluster(
  driver: Driver,
  url: string,
  name: string,
  options: { timings: Timings; count?: number; appFields?: Record<string, unknown> },
  body: (nodes: Node[], raws: RawClient[]) => Promise<void>,
): Promise<void> {
  const prefix = uniquePrefix(`cluster-${name}-${driver}`);
  let nodes: Node[] = [];
  const raws: RawClient[] = [];
  try {
    nodes = await startCluster({ driver, url, prefix, ...options });
    await body(nodes, raws);
  } finally {
    for (const c of raws) c.close();
    try {
      await stopAll(nodes);
    } finally {
      await cleanup(driver, prefix);
    }
  }
}

/** Every occupancy and membership webhook. */
const MEMBERSHIP_WEBHOOKS = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'];

/**
 * Runs `body` on a fresh cluster whose nodes post every occupancy and membership webhook to a fresh
 * receiver; stops the nodes and forgets their shared state afterwards.
 */
async function withWebhookCluster(
  driver: Driver,
  url: string,
  name: string,
  options: { timings: Timings; vacateDelayMs?: number; respond?: Responder },
  body: (nodes: Node[], webhooks: WebhookReceiver, prefix: string) => Promise<void>,
): Promise<void> {
  const prefix = uniquePrefix(`cluster-${name}-${driver}`);
  const { respond, ...timing } = options;
  const webhooks = await WebhookReceiver.start(respond);
  let nodes: Node[] = [];
  try {
    nodes = await startCluster({
      driver,
      url,
      prefix,
      webhookUrl: webhooks.url,
      webhookEvents: MEMBERSHIP_WEBHOOKS,
      ...timing,
    });
    await body(nodes, webhooks, prefix);
  } finally {
    try {
      await stopAll(nodes);
    } finally {
      await webhooks.close();
      await cleanup(driver, prefix);
    }
  }
}

async function cleanup(driver: Driver, prefix: string, url?: string): Promise<void> {
  if (driver === 'redis') await deleteRedisPrefix(prefix, url);
  else await destroyNatsBuckets(prefix, ['presence', 'occupancy', 'cache', 'outbox'], url);
}

function clusterSuite(driver: Driver, sharedUrl: string, skip: string | false): void {
  describe(`a cluster of three processes over ${driver}`, { skip }, () => {
    describe('on a running cluster', () => {
      const prefix = uniquePrefix(`cluster-${driver}`);
      let nodes: Node[] = [];
      before(async () => {
        nodes = await startCluster({
          driver,
          url: sharedUrl,
          prefix,
          timings: { heartbeatMs: 200, nodeTimeoutMs: 3_000, requestTimeoutMs: 2_000 },
        });
      });
      after(async () => {
        try {
          await stopAll(nodes);
        } finally {
          await cleanup(driver, prefix);
        }
      });

      test('presence: every node shows the same members and each member event once', async () => {
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const channel = 'presence-lobby';
        const alice = await subscribed(n1.client('alice'), channel, 'alice@node1');
        assert.deepEqual(presenceIds(alice), ['alice']);
        const bob = await subscribed(n2.client('bob'), channel, 'bob@node2');
        assert.deepEqual(presenceIds(bob), ['alice', 'bob']);
        await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'bob');
        const carol = await subscribed(n3.client('carol'), channel, 'carol@node3');
        assert.deepEqual(presenceIds(carol), ['alice', 'bob', 'carol']);
        // Alice again, from another node: the same member, announced to nobody.
        const alice2 = await subscribed(n3.client('alice'), channel, 'alice@node3');
        assert.deepEqual(presenceIds(alice2), ['alice', 'bob', 'carol']);
        await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'carol');
        await bob.next('pusher:member_added', (m: { id: string }) => m.id === 'carol');

        const watches = [alice, bob, carol, alice2];
        await barrier(nodes, channel, watches);
        assert.deepEqual(alice.members('pusher:member_added'), ['bob', 'carol']);
        assert.deepEqual(bob.members('pusher:member_added'), ['carol']);
        assert.deepEqual(carol.members('pusher:member_added'), []);
        assert.deepEqual(alice2.members('pusher:member_added'), []);
        for (const w of watches) assert.deepEqual(presenceIds(w), ['alice', 'bob', 'carol'], w.name);
        const added = alice.all<{ id: string; info: unknown }>('pusher:member_added');
        assert.deepEqual(added[1], { id: 'carol', info: { name: 'carol' } }, 'user_info crosses nodes');

        // Bob leaves: everyone else hears it once, whatever node they are on.
        bob.client.disconnect();
        for (const w of [alice, carol, alice2]) {
          await w.next('pusher:member_removed', (m: { id: string }) => m.id === 'bob');
        }
        await barrier(nodes, channel, [alice, carol, alice2]);
        for (const w of [alice, carol, alice2]) {
          assert.deepEqual(w.members('pusher:member_removed'), ['bob'], w.name);
          assert.deepEqual(presenceIds(w), ['alice', 'carol'], w.name);
        }
        for (const n of nodes) {
          const { users } = await n.get<{ users: { id: string }[] }>(`/channels/${channel}/users`);
          assert.deepEqual(users.map((u) => u.id).sort(), ['alice', 'carol'], n.name);
        }
      });

      test('an HTTP trigger on any node reaches the subscribers on every node once', async () => {
        const channel = 'public-news';
        const watches: Watch[] = [];
        for (const n of nodes) watches.push(await subscribed(n.client(), channel, `reader@${n.name}`));
        const second = await subscribed(nodes[1]!.client(), channel, `reader2@${nodes[1]!.name}`);
        watches.push(second);
        const secondSocket = second.client.connection.socket_id;

        for (const n of nodes) await n.sdk.trigger(channel, 'news', { from: n.name });
        // Excluding a socket works from any node: node1 names a socket that lives on node2.
        await nodes[0]!.sdk.trigger(channel, 'news', { from: 'except' }, { socket_id: secondSocket });
        await barrier(nodes, channel, watches);
        for (const w of watches) {
          const from = w.all<{ from: string }>('news').map((d) => d.from);
          const expected = ['node1', 'node2', 'node3', ...(w === second ? [] : ['except'])];
          assert.deepEqual(from.sort(), expected.sort(), w.name);
        }
      });

      test('a client event on one node reaches the channel on the others, not its sender', async () => {
        const channel = 'private-chat';
        const [sender, ...others] = await Promise.all(
          nodes.map((n) => subscribed(n.client(), channel, `chatter@${n.name}`)),
        );
        sender!.channel.trigger('client-hello', { text: 'hi' });
        for (const w of others) assert.deepEqual(await w.next('client-hello'), { text: 'hi' });
        await barrier(nodes, channel, [sender!, ...others]);
        assert.deepEqual(sender!.all('client-hello'), []);
        for (const w of others) assert.equal(w.all('client-hello').length, 1, w.name);
      });

      test('terminate_connections on one node closes the user on every node (4009)', async () => {
        const raws: RawClient[] = [];
        const signedIn = async (node: Node, id: string) => {
          const { client, socketId } = await RawClient.connect(
            `ws://127.0.0.1:${node.port}/app/${APP.key}?protocol=7&client=js&version=8.6.0&flash=false`,
          );
          raws.push(client);
          client.send({ event: 'pusher:signin', data: node.sdk.authenticateUser(socketId, { id }) });
          await within(client.next('pusher:signin_success'), GUARD_MS, `${id} signed in on ${node.name}`);
          return client;
        };
        try {
          const [n1, n2, n3] = nodes as [Node, Node, Node];
          const targets = [await signedIn(n1, 'leaver'), await signedIn(n3, 'leaver')];
          const bystander = await signedIn(n1, 'stayer');
          const response = await n2.sdk.terminateUserConnections('leaver');
          assert.equal(response.status, 200);
          for (const client of targets) {
            const error = await within(client.next('pusher:error'), GUARD_MS, 'pusher:error');
            assert.equal((error.data as { code: number }).code, 4009);
            assert.equal((await within(client.closed, GUARD_MS, 'the close')).code, 4009);
          }
          bystander.send({ event: 'pusher:ping', data: {} });
          await within(bystander.next('pusher:pong'), GUARD_MS, 'the bystander still served');
        } finally {
          for (const client of raws) client.close();
        }
      });

      test('watchlists: a watcher hears of a user signing in and out on other nodes, once', async () => {
        const raws: RawClient[] = [];
        const WATCHLIST = 'pusher_internal:watchlist_events';
        const signedIn = async (node: Node, id: string, watchlist?: string[]) => {
          const { client, socketId } = await RawClient.connect(`ws://127.0.0.1:${node.port}/app/${APP.key}`);
          raws.push(client);
          const user = watchlist ? { id, watchlist } : { id };
          client.send({ event: 'pusher:signin', data: node.sdk.authenticateUser(socketId, user) });
          await within(client.next('pusher:signin_success'), GUARD_MS, `${id} signed in on ${node.name}`);
          return client;
        };
        const change = async (client: RawClient, what: string) =>
          (await within(client.next(WATCHLIST), GUARD_MS, what)).data;
        try {
          const [n1, n2, n3] = nodes as [Node, Node, Node];
          const watcher = await signedIn(n1, 'watcher', ['wendy']);
          assert.deepEqual(await change(watcher, 'the snapshot'), {
            events: [{ name: 'offline', user_ids: ['wendy'] }],
          });
          const onNode2 = await signedIn(n2, 'wendy');
          assert.deepEqual(await change(watcher, 'wendy online'), {
            events: [{ name: 'online', user_ids: ['wendy'] }],
          });
          // A second connection elsewhere, then the first one going away: she is online all along.
          const onNode3 = await signedIn(n3, 'wendy');
          onNode2.close();
          await within(onNode2.closed, GUARD_MS, 'the node2 connection to close');
          // A newcomer's snapshot, taken on node3, says she is online.
          const second = await signedIn(n3, 'watcher2', ['wendy']);
          assert.deepEqual(await change(second, 'the second snapshot'), {
            events: [{ name: 'online', user_ids: ['wendy'] }],
          });
          onNode3.close();
          assert.deepEqual(await change(watcher, 'wendy offline'), {
            events: [{ name: 'offline', user_ids: ['wendy'] }],
          });
          assert.deepEqual(await change(second, 'wendy offline, seen on node3'), {
            events: [{ name: 'offline', user_ids: ['wendy'] }],
          });
          watcher.send({ event: 'pusher:ping', data: {} });
          await within(watcher.next('pusher:pong'), GUARD_MS, 'pong');
          assert.deepEqual(
            watcher.frames.filter((f) => f.event === WATCHLIST),
            [],
            'no other watchlist event',
          );
        } finally {
          for (const client of raws) client.close();
        }
      });

      test('WAMP: a publication on one node reaches the realm’s subscribers on the others, retained ones too', async () => {
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const opened = [await openWamp(n1), await openWamp(n2)];
        try {
          const [subscriber, publisher] = opened.map((o) => o.session) as [AutobahnSession, AutobahnSession];
          const exact: unknown[] = [];
          const prefixed: unknown[] = [];
          let heard: () => void = () => {};
          const both = new Promise<void>((resolve) => (heard = resolve));
          const check = () => exact.length === 1 && prefixed.length === 1 && heard();
          await subscriber.subscribe('com.cluster.news', (args) => {
            exact.push(args);
            check();
          });
          await subscriber.subscribe(
            'com.cluster',
            (args, _kwargs, details) => {
              prefixed.push([args, details.topic]);
              check();
            },
            { match: 'prefix' },
          );
          await publisher.publish(
            'com.cluster.news',
            ['from node2', { bytes: 3 }],
            {},
            { acknowledge: true },
          );
          await within(both, GUARD_MS, 'the events on node1');
          assert.deepEqual(exact, [['from node2', { bytes: 3 }]]);
          assert.deepEqual(prefixed, [[['from node2', { bytes: 3 }], 'com.cluster.news']]);

          // Retained on node2, asked for on node3.
          await publisher.publish('com.cluster.kept', ['kept'], {}, { acknowledge: true, retain: true });
          const late = await openWamp(n3);
          opened.push(late);
          const retained = await within(
            new Promise<unknown>((resolve) => {
              void late.session.subscribe('com.cluster.kept', (args) => resolve(args), {
                get_retained: true,
              });
            }),
            GUARD_MS,
            'the retained event on node3',
          );
          assert.deepEqual(retained, ['kept']);
        } finally {
          for (const o of opened) await closeAutobahn(o.connection);
        }
      });

      test('WAMP: wamp.session.count, .list and .get answer for the whole cluster', async () => {
        const opened = await Promise.all((nodes as Node[]).map(openWamp));
        try {
          const ids = opened.map((o) => o.session.id).sort();
          const [first] = opened as [(typeof opened)[0]];
          assert.equal(await first.session.call('wamp.session.count'), 3);
          assert.deepEqual(((await first.session.call('wamp.session.list')) as number[]).sort(), ids);
          assert.equal(await first.session.call('wamp.session.count', [['nobody']]), 0);
          const onNode3 = (await first.session.call('wamp.session.get', [opened[2]!.session.id])) as {
            session: number;
            authrole: string;
          };
          assert.deepEqual([onNode3.session, onNode3.authrole], [opened[2]!.session.id, 'anonymous']);
          await assert.rejects(
            first.session.call('wamp.session.get', [1]),
            wampError('wamp.error.no_such_session'),
          );
        } finally {
          for (const o of opened) await closeAutobahn(o.connection);
        }
      });

      test('WAMP: a caller on one node reaches callees on the others: results, progress, errors, best match', async () => {
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const opened = [await openWamp(n1), await openWamp(n2), await openWamp(n3)];
        try {
          const [caller, callee, prefixCallee] = opened.map((o) => o.session) as [
            AutobahnSession,
            AutobahnSession,
            AutobahnSession,
          ];
          const seen: unknown[] = [];
          await callee.register(
            'com.cluster.add2',
            (args, _kwargs, details) => {
              seen.push(details.caller);
              return (args[0] as number) + (args[1] as number);
            },
            { disclose_caller: true },
          );
          await callee.register('com.cluster.countdown', (args, _kwargs, details) => {
            const progress = details.progress as ((args: unknown[]) => void) | undefined;
            for (let i = args[0] as number; i > 0; i--) progress?.([i]);
            return 'liftoff';
          });
          await callee.register('com.cluster.fail', () => {
            throw new autobahn.Error('com.cluster.refused', ['not today'], { code: 7 });
          });
          await prefixCallee.register(
            'com.cluster',
            (_args, _kwargs, details) => `node3 ${details.procedure}`,
            {
              match: 'prefix',
            },
          );

          assert.equal(await caller.call('com.cluster.add2', [2, 3]), 5);
          assert.deepEqual(seen, [caller.id], 'the callee on node2 sees the caller on node1');
          // Exact on node2 beats the prefix on node3; anything else under the prefix goes to node3.
          assert.equal(await caller.call('com.cluster.add2', [40, 2]), 42);
          assert.equal(await caller.call('com.cluster.other'), 'node3 com.cluster.other');
          // A caller on node3 with its own prefix match still reaches node2's exact registration.
          assert.equal(await prefixCallee.call('com.cluster.add2', [1, 1]), 2);

          const progressed: unknown[] = [];
          const countdown = caller.call(
            'com.cluster.countdown',
            [3],
            {},
            { receive_progress: true },
          ) as unknown as {
            then(ok: (v: unknown) => void, err: (e: unknown) => void, progress: (p: unknown) => void): void;
          };
          const final = await new Promise((resolve, reject) =>
            countdown.then(resolve, reject, (p) => progressed.push(p)),
          );
          assert.deepEqual([progressed, final], [[3, 2, 1], 'liftoff']);

          await assert.rejects(
            caller.call('com.cluster.fail'),
            (err: { error?: string; args?: unknown[]; kwargs?: unknown }) => {
              assert.deepEqual(
                [err.error, err.args, err.kwargs],
                ['com.cluster.refused', ['not today'], { code: 7 }],
              );
              return true;
            },
          );
          await assert.rejects(caller.call('org.nowhere.proc'), wampError('wamp.error.no_such_procedure'));
        } finally {
          for (const o of opened) await closeAutobahn(o.connection);
        }
      });

      test('WAMP: a registration shared across nodes follows its invocation policy; a single one is refused elsewhere', async () => {
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const opened = [await openWamp(n1), await openWamp(n2), await openWamp(n3), await openWamp(n3)];
        try {
          const [caller, onNode2, onNode3, alsoOnNode3] = opened.map((o) => o.session) as [
            AutobahnSession,
            AutobahnSession,
            AutobahnSession,
            AutobahnSession,
          ];
          await onNode2.register('com.cluster.only', () => 'node2');
          await assert.rejects(
            onNode3.register('com.cluster.only', () => 'node3'),
            wampError('wamp.error.procedure_already_exists'),
          );
          await onNode2.register('com.cluster.pool', () => 'node2', { invoke: 'roundrobin' });
          await onNode3.register('com.cluster.pool', () => 'node3', { invoke: 'roundrobin' });
          await assert.rejects(
            alsoOnNode3.register('com.cluster.pool', () => 'node3', { invoke: 'random' }),
            wampError('wamp.error.procedure_exists_with_different_invocation_policy'),
          );
          assert.equal(await caller.call('com.cluster.only'), 'node2');

          // Round robin over both nodes' callees, also for a caller next to one of them.
          for (const from of [caller, onNode2]) {
            const served: unknown[] = [];
            for (let i = 0; i < 4; i++) served.push(await from.call('com.cluster.pool'));
            assert.deepEqual(
              served.sort(),
              ['node2', 'node2', 'node3', 'node3'],
              'each node serves every other call',
            );
          }

          // first: the oldest callee of the cluster; last: the newest.
          for (const invoke of ['first', 'last']) {
            await onNode2.register(`com.cluster.${invoke}`, () => 'node2', { invoke });
            await onNode3.register(`com.cluster.${invoke}`, () => 'node3', { invoke });
          }
          for (const from of [caller, onNode2, onNode3]) {
            assert.equal(await from.call('com.cluster.first'), 'node2');
            assert.equal(await from.call('com.cluster.last'), 'node3');
          }
        } finally {
          for (const o of opened) await closeAutobahn(o.connection);
        }
      });

      test('WAMP across nodes: timeout, cancel, progressive invocations, a departing caller; MessagePack bytes arrive intact', async () => {
        const [n1, n2] = nodes as [Node, Node];
        const url = (n: Node) => `ws://127.0.0.1:${n.port}/ws`;
        const callee = await RawWampClient.join(url(n2));
        const caller = await RawWampClient.join(url(n1), { serialization: 'msgpack' });
        let leaving: RawWampClient | undefined;
        let streamer: RawWampClient | undefined;
        try {
          const registration = await callee.register('com.cluster.slow');
          const invocation = () => within(callee.next(68), GUARD_MS, 'the INVOCATION on node2');
          const interrupt = () => within(callee.next(69), GUARD_MS, 'the INTERRUPT on node2');

          // Bytes from a MessagePack caller reach a JSON callee as WAMP's base64 string, and back as bytes.
          const echo = caller.call('com.cluster.slow', [new Uint8Array([0, 1, 254, 255])]);
          const first = await invocation();
          assert.deepEqual(first.slice(0, 2).concat([first[4]]), [
            68,
            first[1],
            [`\u0000${Buffer.from([0, 1, 254, 255]).toString('base64')}`],
          ]);
          assert.equal(first[2], registration);
          callee.send([70, first[1], {}, first[4]]);
          const echoed = await within(echo, GUARD_MS, 'the RESULT on node1');
          const [bytes] = echoed[3] as [Uint8Array];
          assert.deepEqual(
            [echoed[0], bytes instanceof Uint8Array, [...bytes]],
            [50, true, [0, 1, 254, 255]],
          );

          // The dealer-side timeout runs on the callee's node.
          const timedOut = caller.call('com.cluster.slow', [], { timeout: 200 });
          const second = await invocation();
          assert.deepEqual((await within(timedOut, GUARD_MS, 'the timeout'))[4], 'wamp.error.timeout');
          assert.deepEqual(await interrupt(), [69, second[1], { mode: 'killnowait' }]);

          // CANCEL killnowait: canceled at once, the callee interrupted, its late answer dropped.
          const request = caller.id();
          caller.send([48, request, {}, 'com.cluster.slow', []]);
          const third = await invocation();
          caller.send([49, request, { mode: 'killnowait' }]);
          const canceled = await within(caller.reply(request, [8, 50]), GUARD_MS, 'the canceled ERROR');
          assert.deepEqual([canceled[0], canceled[4]], [8, 'wamp.error.canceled']);
          assert.deepEqual(await interrupt(), [69, third[1], { mode: 'killnowait' }]);
          callee.send([70, third[1], {}, ['too late']]);

          // Progressive call invocations: every chunk reaches the same INVOCATION on node2, in order;
          // a chunk of a call the callee has already answered starts nothing.
          const features = { progressive_call_invocations: true, call_canceling: true };
          streamer = await RawWampClient.join(url(n2), { details: { roles: { callee: { features } } } });
          await streamer.register('com.cluster.stream');
          const chunk = (request: number, progress: boolean, arg: string) =>
            caller.send([48, request, progress ? { progress } : {}, 'com.cluster.stream', [arg]]);
          const stream = caller.id();
          chunk(stream, true, 'a');
          chunk(stream, true, 'b');
          chunk(stream, false, 'c');
          const chunks = [];
          for (let i = 0; i < 3; i++) chunks.push(await within(streamer.next(68), GUARD_MS, 'a chunk'));
          assert.deepEqual(
            chunks.map((m) => [m[1], m[3], m[4]]),
            [
              [chunks[0]![1], { progress: true }, ['a']],
              [chunks[0]![1], { progress: true }, ['b']],
              [chunks[0]![1], {}, ['c']],
            ],
          );
          streamer.send([70, chunks[0]![1], {}, ['abc']]);
          const streamed = await within(caller.reply(stream, [50, 8]), GUARD_MS, 'the streamed RESULT');
          assert.deepEqual([streamed[0], streamed[3]], [50, ['abc']]);

          const early = caller.id();
          chunk(early, true, 'x');
          const answered = await within(streamer.next(68), GUARD_MS, 'the first chunk');
          streamer.send([70, answered[1], {}, ['enough']]);
          await within(caller.reply(early, [50, 8]), GUARD_MS, 'the early RESULT');
          chunk(early, false, 'late');
          const after = caller.call('com.cluster.stream', ['next']);
          const next = await within(streamer.next(68), GUARD_MS, 'the next call');
          assert.deepEqual(next[4], ['next'], 'the late chunk started no call');
          streamer.send([70, next[1], {}, []]);
          await within(after, GUARD_MS, 'the next RESULT');

          // A caller that leaves mid-call: the callee on the other node is interrupted.
          leaving = await RawWampClient.join(url(n1));
          leaving.send([48, leaving.id(), {}, 'com.cluster.slow', []]);
          const fourth = await invocation();
          leaving.close();
          assert.deepEqual(await interrupt(), [69, fourth[1], { mode: 'killnowait' }]);
          assert.equal(
            caller.messages.filter((m) => m[0] === 50).length,
            0,
            'no RESULT for the canceled call, whose late YIELD was dropped',
          );
        } finally {
          callee.close();
          caller.close();
          leaving?.close();
          streamer?.close();
        }
      });

      test('WAMP: the subscription, registration and kill meta procedures and the meta events span the cluster', async () => {
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const url = (n: Node) => `ws://127.0.0.1:${n.port}/ws`;
        const clients: RawWampClient[] = [];
        const join = async (n: Node) => {
          const client = await RawWampClient.join(url(n));
          clients.push(client);
          return client;
        };
        const meta = async (
          client: RawWampClient,
          procedure: string,
          args: unknown[] = [],
          kwargs?: object,
        ) => {
          const request = client.id();
          client.send(
            kwargs ? [48, request, {}, procedure, args, kwargs] : [48, request, {}, procedure, args],
          );
          const reply = await within(client.reply(request, [50, 8]), GUARD_MS, procedure);
          if (reply[0] === 8) throw new Error(reply[4] as string);
          return (reply[3] as unknown[] | undefined)?.[0];
        };
        try {
          const watcher = await join(n1);
          const joins = await watcher.subscribe('wamp.session.on_join');
          const leaves = await watcher.subscribe('wamp.session.on_leave');
          const registers = await watcher.subscribe('wamp.registration.on_register');
          const created = await watcher.subscribe('wamp.subscription.on_create');
          const event = (subscription: number, test: (args: unknown[]) => boolean, what: string) =>
            within(
              watcher.next((m) => m[0] === 36 && m[1] === subscription && test(m[4] as unknown[])),
              GUARD_MS,
              what,
            );

          const onNode2 = await join(n2);
          const joined = await event(
            joins,
            (a) => (a[0] as { session: number }).session === onNode2.sessionId,
            'on_join',
          );
          assert.equal((joined[4] as [{ authrole: string }])[0].authrole, 'anonymous');
          const registration = await onNode2.register('com.meta.proc');
          await event(registers, (a) => a[0] === onNode2.sessionId && a[1] === registration, 'on_register');
          const subscription = await onNode2.subscribe('com.meta.topic');
          const creation = await event(created, (a) => a[0] === onNode2.sessionId, 'on_create');
          assert.deepEqual((creation[4] as [number, { id: number; uri: string }])[1].uri, 'com.meta.topic');
          const onNode3 = await join(n3);
          assert.equal(await onNode3.subscribe('com.meta.topic'), subscription, 'one ID on every node');

          assert.equal(await meta(watcher, 'wamp.subscription.lookup', ['com.meta.topic']), subscription);
          assert.deepEqual(await meta(watcher, 'wamp.subscription.match', ['com.meta.topic']), [
            subscription,
          ]);
          const listed = (await meta(watcher, 'wamp.subscription.list')) as Record<string, number[]>;
          assert.ok(listed.exact!.includes(subscription), 'listed among the exact subscriptions');
          assert.equal(
            ((await meta(watcher, 'wamp.subscription.get', [subscription])) as { uri: string }).uri,
            'com.meta.topic',
          );
          assert.equal(await meta(watcher, 'wamp.subscription.count_subscribers', [subscription]), 2);
          assert.deepEqual(
            ((await meta(watcher, 'wamp.subscription.list_subscribers', [subscription])) as number[]).sort(),
            [onNode2.sessionId, onNode3.sessionId].sort(),
          );
          assert.equal(await meta(watcher, 'wamp.registration.lookup', ['com.meta.proc']), registration);
          assert.equal(await meta(watcher, 'wamp.registration.match', ['com.meta.proc']), registration);
          assert.deepEqual(await meta(watcher, 'wamp.registration.list_callees', [registration]), [
            onNode2.sessionId,
          ]);
          assert.equal(await meta(watcher, 'wamp.registration.count_callees', [registration]), 1);
          assert.equal(
            ((await meta(watcher, 'wamp.registration.get', [registration])) as { uri: string }).uri,
            'com.meta.proc',
          );
          await assert.rejects(
            meta(watcher, 'wamp.subscription.get', [1]),
            /wamp\.error\.no_such_subscription/,
          );
          await assert.rejects(
            meta(watcher, 'wamp.registration.count_callees', [1]),
            /wamp\.error\.no_such_registration/,
          );

          // Kills reach the sessions on other nodes, and their on_leave comes back.
          await meta(watcher, 'wamp.session.kill', [onNode3.sessionId], { message: 'from node1' });
          const goodbye = await within(onNode3.next(6), GUARD_MS, 'the GOODBYE on node3');
          assert.deepEqual([goodbye[1], goodbye[2]], [{ message: 'from node1' }, 'wamp.close.killed']);
          await event(leaves, (a) => a[0] === onNode3.sessionId, 'on_leave of the session on node3');
          await assert.rejects(meta(watcher, 'wamp.session.kill', [onNode3.sessionId]), /no_such_session/);
          const details = (await meta(watcher, 'wamp.session.get', [onNode2.sessionId])) as {
            authid: string;
          };
          assert.deepEqual(await meta(watcher, 'wamp.session.kill_by_authid', [details.authid]), [
            onNode2.sessionId,
          ]);
          await within(onNode2.next(6), GUARD_MS, 'the GOODBYE on node2');
          assert.equal(
            await meta(watcher, 'wamp.subscription.lookup', ['com.meta.topic']),
            null,
            'gone with its subscribers',
          );
        } finally {
          for (const client of clients) client.close();
        }
      });

      test('WAMP: a payload nested past 100 levels is refused where it arrives; MessagePack subscribers on every node live on', async () => {
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const url = (n: Node) => `ws://127.0.0.1:${n.port}/ws`;
        const topic = 'com.deep.cluster';
        const clients: RawWampClient[] = [];
        try {
          const subscribers = [
            await RawWampClient.join(url(n2), { serialization: 'msgpack' }),
            await RawWampClient.join(url(n3), { serialization: 'msgpack' }),
          ];
          clients.push(...subscribers);
          const subscriptions: number[] = [];
          for (const s of subscribers) subscriptions.push(await s.subscribe(topic));
          const publisher = await RawWampClient.join(url(n1));
          clients.push(publisher);
          const deep = `${'['.repeat(101)}1${']'.repeat(101)}`; // args 102 deep: past MessagePack's 100
          publisher.send(`[16,${publisher.id()},{},"${topic}",${deep}]`);
          const request = publisher.id();
          publisher.send(`[16,${request},{"acknowledge":true},"${topic}",${deep}]`);
          const refused = await within(publisher.reply(request, [17, 8]), GUARD_MS, 'the refusal');
          assert.deepEqual([refused[0], refused[4]], [8, 'wamp.error.invalid_argument']);
          publisher.send([16, publisher.id(), {}, topic, ['after']]);
          for (const [i, s] of subscribers.entries()) {
            const event = await within(
              s.next((m) => m[0] === 36 && m[1] === subscriptions[i]),
              GUARD_MS,
              `the EVENT on node${i + 2}`,
            );
            assert.deepEqual(event[4], ['after'], 'the deep publications never arrived');
          }
          for (const n of nodes) assert.equal(n.child.exitCode, null, `${n.name} is running`);
        } finally {
          for (const client of clients) client.close();
        }
      });

      test('the HTTP API on any node answers with cluster-wide counts and lists', async () => {
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const pub = `public-count-${randomUUID()}`;
        const pres = `presence-count-${randomUUID()}`;
        await subscribed(n1.client(), pub, 'p1');
        await subscribed(n1.client(), pub, 'p2');
        await subscribed(n2.client(), pub, 'p3');
        await subscribed(n1.client('u1'), pres, 'u1@node1');
        await subscribed(n2.client('u2'), pres, 'u2@node2');
        await subscribed(n3.client('u1'), pres, 'u1@node3');

        for (const n of nodes) {
          const channel = await n.get<Record<string, unknown>>(`/channels/${pub}`, {
            info: 'subscription_count',
          });
          assert.deepEqual(channel, { occupied: true, subscription_count: 3 }, n.name);
          const presence = await n.get<Record<string, unknown>>(`/channels/${pres}`, {
            info: 'user_count,subscription_count',
          });
          assert.deepEqual(presence, { occupied: true, user_count: 2, subscription_count: 3 }, n.name);
          const { users } = await n.get<{ users: { id: string }[] }>(`/channels/${pres}/users`);
          assert.deepEqual(users.map((u) => u.id).sort(), ['u1', 'u2'], n.name);
          const list = await n.get<{ channels: Record<string, Record<string, number>> }>('/channels', {
            filter_by_prefix: 'presence-count-',
            info: 'user_count',
          });
          assert.deepEqual(list.channels, { [pres]: { user_count: 2 } }, n.name);
          const all = await n.get<{ channels: Record<string, unknown> }>('/channels');
          assert.ok(pub in all.channels && pres in all.channels, `${n.name} lists channels of other nodes`);
        }
      });
    });

    test("cache channels' last events and subscription counts are the cluster's", () =>
      withOwnCluster(
        driver,
        sharedUrl,
        'cache',
        {
          timings: { heartbeatMs: 200, nodeTimeoutMs: 3_000, requestTimeoutMs: 1_000 },
          count: 2,
          appFields: { subscriptionCount: true },
        },
        async (nodes, raws) => {
          const connect = async (node: Node) => {
            const { client } = await RawClient.connect(`ws://127.0.0.1:${node.port}/app/${APP.key}`);
            raws.push(client);
            return client;
          };
          const [n1, n2] = nodes as [Node, Node];
          // Published through node1 before anyone listens; a subscriber on node2 gets it replayed.
          await n1.sdk.trigger('cache-news', 'headline', { v: 1 });
          const late = await connect(n2);
          const joined = await within(late.subscribe('cache-news'), GUARD_MS, 'the cache channel');
          assert.equal(joined.event, 'pusher_internal:subscription_succeeded');
          const replay = await within(
            late.next((f) => f.channel === 'cache-news' && !f.event.startsWith('pusher_internal:')),
            GUARD_MS,
            'the replay',
          );
          assert.equal(replay.event, 'headline', JSON.stringify(replay));
          assert.deepEqual(JSON.parse(replay.data as string), { v: 1 });

          // One subscriber on each node: each hears the count of both.
          const counted = [await connect(n1), await connect(n2)];
          for (const c of counted) await within(c.subscribe('public-counted'), GUARD_MS, 'public-counted');
          for (const c of counted) {
            await within(
              (async () => {
                for (;;) {
                  const f = await c.next('pusher_internal:subscription_count');
                  if (
                    (JSON.parse(f.data as string) as { subscription_count: number }).subscription_count === 2
                  )
                    return;
                }
              })(),
              GUARD_MS,
              'a count of 2',
            );
          }
        },
      ));

    test("an app's connection quota and events to a signed-in user hold across nodes", () =>
      withOwnCluster(
        driver,
        sharedUrl,
        'quota',
        {
          timings: { heartbeatMs: 200, nodeTimeoutMs: 3_000, requestTimeoutMs: 1_000 },
          appFields: { maxConnections: 3, maxHttpRequestsPerSecond: 3 },
        },
        async (nodes, raws) => {
          const [n1, n2, n3] = nodes as [Node, Node, Node];
          const open = async (node: Node) => {
            const client = await RawClient.open(`ws://127.0.0.1:${node.port}/app/${APP.key}`);
            raws.push(client);
            return client;
          };
          const connected = async (node: Node) => {
            const client = await open(node);
            const established = await within(client.next(), GUARD_MS, `a connection on ${node.name}`);
            assert.equal(established.event, 'pusher:connection_established', JSON.stringify(established));
            const { socket_id } = JSON.parse(established.data as string) as { socket_id: string };
            return { client, socketId: socket_id };
          };
          const zoe = await connected(n1);
          zoe.client.send({
            event: 'pusher:signin',
            data: n1.sdk.authenticateUser(zoe.socketId, { id: 'zoe' }),
          });
          await within(zoe.client.next('pusher:signin_success'), GUARD_MS, 'zoe signed in');
          // What pusher-js does after signing in.
          const own = await within(zoe.client.subscribe('#server-to-user-zoe'), GUARD_MS, 'her own channel');
          assert.equal(own.event, 'pusher_internal:subscription_succeeded');
          const second = await connected(n2);
          await connected(n3);

          // The fourth connection of the app, on any node, is over the quota.
          const fourth = await open(n1);
          const refused = await within(fourth.next('pusher:error'), GUARD_MS, 'the refusal');
          assert.equal((refused.data as { code: number }).code, 4004);
          assert.equal((await within(fourth.closed, GUARD_MS, 'the close')).code, 4004);

          // An event for zoe published on node2 reaches her connection on node1.
          await n2.sdk.sendToUser('zoe', 'hello', { from: 'node2' });
          const hello = await within(zoe.client.next('hello'), GUARD_MS, 'the event to zoe');
          assert.equal(hello.channel, '#server-to-user-zoe');
          assert.deepEqual(JSON.parse(hello.data as string), { from: 'node2' });

          // The app's HTTP rate is shared out: 3 per second over three nodes is one per node.
          await n1.sdk.trigger('public-rate', 'first', {});
          await assert.rejects(
            n1.sdk.trigger('public-rate', 'second', {}),
            (err: { status?: number; body?: string }) => {
              assert.equal(err.status, 429);
              assert.match(String(err.body), /allows 3 per second across 3 nodes/);
              return true;
            },
          );
          await n3.sdk.trigger('public-rate', 'elsewhere', {});

          // One leaves on node2: there is room again, on node3.
          second.client.close();
          await second.client.closed;
          await within(
            (async () => {
              for (;;) {
                const { client } = await connected(n3).catch(() => ({ client: undefined }));
                if (client) return;
              }
            })(),
            GUARD_MS,
            'room for another connection',
          );
        },
      ));

    test('WAMP: a lookup a stalled node does not answer refuses the CALL and the REGISTER as unavailable, and says so', () =>
      withOwnCluster(
        driver,
        sharedUrl,
        'wamp-stalled',
        { count: 2, timings: { heartbeatMs: 200, nodeTimeoutMs: 30_000, requestTimeoutMs: 500 } },
        async (nodes) => {
          const [n1, n2] = nodes as [Node, Node];
          const url = (n: Node) => `ws://127.0.0.1:${n.port}/ws`;
          const callee = await RawWampClient.join(url(n2));
          const caller = await RawWampClient.join(url(n1));
          try {
            await callee.register('com.stalled.proc');
            n2.child.kill('SIGSTOP'); // alive for the cluster (its node timeout is long), but silent
            try {
              const since = n1.logs.length;
              const call = await within(caller.call('com.stalled.proc'), GUARD_MS, 'the CALL');
              assert.deepEqual([call[0], call[4]], [8, 'wamp.error.unavailable'], 'not no_such_procedure');
              const request = caller.id();
              caller.send([64, request, {}, 'com.stalled.proc']);
              const refused = await within(caller.reply(request, [65, 8]), GUARD_MS, 'the REGISTER');
              assert.deepEqual(
                [refused[0], refused[4]],
                [8, 'wamp.error.unavailable'],
                'not a second single',
              );
              const count = await within(caller.call('wamp.session.count'), GUARD_MS, 'wamp.session.count');
              assert.deepEqual([count[0], count[4]], [8, 'wamp.error.unavailable'], 'not a partial count');
              const logged = (r: LogRecord) => r.level === 40 && /not every node answered/.test(r.msg);
              const record = await n1.log(logged, 'the refusals logged', since);
              assert.equal(record.procedure, 'com.stalled.proc');
            } finally {
              n2.child.kill('SIGCONT');
            }
            const answered = caller.call('com.stalled.proc');
            const invocation = await within(callee.next(68), GUARD_MS, 'the INVOCATION once node2 is back');
            callee.send([70, invocation[1], {}, ['back']]);
            assert.deepEqual((await within(answered, GUARD_MS, 'the RESULT'))[3], ['back']);
          } finally {
            callee.close();
            caller.close();
          }
        },
      ));

    test('a node killed mid-session: survivors announce its members once and counts recover', async () => {
      const prefix = uniquePrefix(`cluster-kill-${driver}`);
      const timings = { heartbeatMs: 200, nodeTimeoutMs: 1_500, requestTimeoutMs: 1_000 };
      const webhooks = await WebhookReceiver.start();
      let nodes: Node[] = [];
      try {
        nodes = await startCluster({ driver, url: sharedUrl, prefix, timings, webhookUrl: webhooks.url });
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const channel = 'presence-crash';
        const alice = await subscribed(n1.client('alice'), channel, 'alice@node1');
        const bob = await subscribed(n2.client('bob'), channel, 'bob@node2');
        await subscribed(n3.client('carol'), channel, 'carol@node3');
        // Dave is on node3 and node1: he stays when node3 dies.
        await subscribed(n3.client('dave'), channel, 'dave@node3');
        const dave = await subscribed(n1.client('dave'), channel, 'dave@node1');
        await subscribed(n3.client(), 'public-only-node3', 'reader@node3');
        await subscribed(n1.client(), 'public-shared', 'reader@node1');
        await subscribed(n3.client(), 'public-shared', 'reader@node3');
        assert.equal(
          (await n1.get<{ user_count: number }>(`/channels/${channel}`, { info: 'user_count' })).user_count,
          4,
        );

        // A WAMP call from node1 waiting for its callee on node3.
        const callee = await RawWampClient.join(`ws://127.0.0.1:${n3.port}/ws`);
        await callee.register('com.crash.slow');
        const caller = await RawWampClient.join(`ws://127.0.0.1:${n1.port}/ws`);
        const call = caller.call('com.crash.slow');
        await within(callee.next(68), GUARD_MS, 'the INVOCATION on node3');

        const killedAt = Date.now();
        await n3.stop('SIGKILL');
        const ended = await within(call, GUARD_MS, 'the end of the call to node3');
        assert.deepEqual([ended[0], ended[4]], [8, 'wamp.error.canceled']);
        caller.close();
        for (const w of [alice, bob, dave]) {
          await w.next('pusher:member_removed', (m: { id: string }) => m.id === 'carol');
        }
        const elapsed = Date.now() - killedAt;
        const bound = timings.nodeTimeoutMs + 2 * timings.heartbeatMs + 1_500;
        assert.ok(elapsed <= bound, `member_removed after ${elapsed} ms, bound ${bound} ms`);

        const survivors = [n1, n2];
        await barrier(survivors, channel, [alice, bob, dave]);
        for (const w of [alice, bob, dave]) {
          assert.deepEqual(w.members('pusher:member_removed'), ['carol'], w.name);
          assert.deepEqual(presenceIds(w), ['alice', 'bob', 'dave'], w.name);
        }
        for (const n of survivors) {
          const presence = await n.get<Record<string, unknown>>(`/channels/${channel}`, {
            info: 'user_count,subscription_count',
          });
          assert.deepEqual(presence, { occupied: true, user_count: 3, subscription_count: 3 }, n.name);
          const shared = await n.get<Record<string, unknown>>('/channels/public-shared', {
            info: 'subscription_count',
          });
          assert.deepEqual(shared, { occupied: true, subscription_count: 1 }, n.name);
          const all = await n.get<{ channels: Record<string, unknown> }>('/channels');
          assert.deepEqual(Object.keys(all.channels).sort(), [channel, 'public-shared'], n.name);
        }
        // Webhooks: one member_removed and one channel_vacated for the whole cluster.
        await webhooks.event((e) => e.name === 'channel_vacated' && e.channel === 'public-only-node3');
        await webhooks.event((e) => e.name === 'member_removed' && e.user_id === 'carol');
        const removed = webhooks.events.filter((e) => e.name === 'member_removed');
        assert.deepEqual(
          removed.map((e) => e.user_id),
          ['carol'],
        );
        const vacated = webhooks.events.filter((e) => e.name === 'channel_vacated').map((e) => e.channel);
        assert.deepEqual(vacated, ['public-only-node3']);
      } finally {
        try {
          await stopAll(nodes);
        } finally {
          await webhooks.close();
          await cleanup(driver, prefix);
        }
      }
    });

    /** Herald's promise with its default timings: a dead node's members are gone within this. */
    const DEFAULT_CLEANUP_BOUND_MS = 10_000;

    test('default timings: a SIGKILLed node’s members are removed, announced and webhooked within 10 s', async () => {
      const prefix = uniquePrefix(`cluster-detect-${driver}`);
      const webhooks = await WebhookReceiver.start();
      let nodes: Node[] = [];
      try {
        nodes = await startCluster({ driver, url: sharedUrl, prefix, webhookUrl: webhooks.url });
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const channel = 'presence-detect';
        const alice = await subscribed(n1.client('alice'), channel, 'alice@node1');
        const bob = await subscribed(n2.client('bob'), channel, 'bob@node2');
        await subscribed(n3.client('carol'), channel, 'carol@node3');
        await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'carol');
        await bob.next('pusher:member_added', (m: { id: string }) => m.id === 'carol');

        const killedAt = Date.now();
        await n3.stop('SIGKILL');
        const gone = (w: Watch) =>
          within(
            w.next('pusher:member_removed', (m: { id: string }) => m.id === 'carol'),
            DEFAULT_CLEANUP_BOUND_MS,
            `${w.name}: member_removed of carol`,
          );
        await Promise.all([gone(alice), gone(bob)]);
        const announced = Date.now() - killedAt;
        await within(
          webhooks.event((e) => e.name === 'member_removed' && e.user_id === 'carol'),
          DEFAULT_CLEANUP_BOUND_MS - announced,
          'the member_removed webhook',
        );
        const webhooked = Date.now() - killedAt;
        console.log(`# ${driver}: member_removed after ${announced} ms, webhook after ${webhooked} ms`);
        for (const n of [n1, n2]) {
          const down = await n.log((r) => r.msg.startsWith('node down'), 'to declare node3 down');
          assert.equal(down.msg, 'node down: connection gone', `${n.name} heard it from the broker`);
          const users = await n.get<{ users: { id: string }[] }>(`/channels/${channel}/users`);
          assert.deepEqual(users.users.map((u) => u.id).sort(), ['alice', 'bob'], n.name);
        }
        for (const w of [alice, bob]) assert.deepEqual(presenceIds(w), ['alice', 'bob'], w.name);
      } finally {
        try {
          await stopAll(nodes);
        } finally {
          await webhooks.close();
          await cleanup(driver, prefix);
        }
      }
    });

    test('default timings: a node paused for 2 s is not declared dead', async () => {
      const prefix = uniquePrefix(`cluster-pause-${driver}`);
      const webhooks = await WebhookReceiver.start();
      let nodes: Node[] = [];
      try {
        nodes = await startCluster({ driver, url: sharedUrl, prefix, webhookUrl: webhooks.url });
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const channel = 'presence-pause';
        const alice = await subscribed(n1.client('alice'), channel, 'alice@node1');
        const bob = await subscribed(n2.client('bob'), channel, 'bob@node2');
        const carol = await subscribed(n3.client('carol'), channel, 'carol@node3');
        await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'carol');
        await bob.next('pusher:member_added', (m: { id: string }) => m.id === 'carol');
        const mark = [n1.logs.length, n2.logs.length];

        // The scenario: node3's process does nothing for 2 s (a long GC pause, a stalled host).
        n3.child.kill('SIGSTOP');
        try {
          await new Promise((resolve) => setTimeout(resolve, 2_000));
        } finally {
          n3.child.kill('SIGCONT');
        }
        // Node3 is heard again: it publishes, and every member on every node receives it.
        await barrier([n3, n1, n2], channel, [alice, bob, carol]);
        // Heard again, node3 can no longer be expired for the pause: whatever the survivors decided is logged.
        for (const [i, n] of [n1, n2].entries()) {
          const since = mark[i]!;
          const down = n.logs.slice(since).filter((r) => r.msg.startsWith('node down'));
          assert.deepEqual(down, [], `${n.name} declared a paused node dead`);
        }
        for (const w of [alice, bob, carol]) {
          assert.deepEqual(w.members('pusher:member_removed'), [], w.name);
          assert.deepEqual(presenceIds(w), ['alice', 'bob', 'carol'], w.name);
        }
        for (const n of nodes) {
          const users = await n.get<{ users: { id: string }[] }>(`/channels/${channel}/users`);
          assert.deepEqual(users.users.map((u) => u.id).sort(), ['alice', 'bob', 'carol'], n.name);
        }
        assert.deepEqual(
          webhooks.events.filter((e) => e.name === 'member_removed'),
          [],
          'no member_removed webhook',
        );
      } finally {
        try {
          await stopAll(nodes);
        } finally {
          await webhooks.close();
          await cleanup(driver, prefix);
        }
      }
    });

    test('webhooks exactly once over 1,000 presence joins and leaves on random nodes', () =>
      withWebhookCluster(
        driver,
        sharedUrl,
        'churn',
        { timings: { heartbeatMs: 500, nodeTimeoutMs: 5_000, requestTimeoutMs: 2_000 } },
        async (nodes, webhooks) => {
          const clients: RawClient[] = [];
          try {
            const channel = 'presence-churn';
            const users = Array.from({ length: 50 }, (_, i) => `user${i}`);
            const cycles = 20;
            // Member removals per user, counted as the webhooks come (every request re-checks 50 waiters).
            const removed = new Map<string, number>();
            let counted = 0;
            const removals = (userId: string) => {
              for (const events = webhooks.events; counted < events.length; counted++) {
                const e = events[counted]!;
                if (e.name === 'member_removed')
                  removed.set(e.user_id as string, (removed.get(e.user_id as string) ?? 0) + 1);
              }
              return removed.get(userId) ?? 0;
            };
            // Each user has a connection on every node and, one cycle after another, joins through a random
            // one and leaves again; the users run side by side, all on one channel.
            await Promise.all(
              users.map(async (userId) => {
                const sockets = await Promise.all(
                  nodes.map(async (n) => {
                    const c = await RawClient.connect(`ws://127.0.0.1:${n.port}/app/${APP.key}?protocol=7`);
                    clients.push(c.client);
                    return { ...c, node: n };
                  }),
                );
                for (let cycle = 1; cycle <= cycles; cycle++) {
                  const { client, socketId, node } = sockets[Math.floor(Math.random() * sockets.length)]!;
                  const auth = node.sdk.authorizeChannel(socketId, channel, { user_id: userId });
                  const reply = await within(
                    client.subscribe(channel, { ...auth }),
                    GUARD_MS,
                    `${userId} join`,
                  );
                  assert.equal(reply.event, 'pusher_internal:subscription_succeeded', JSON.stringify(reply));
                  client.send({ event: 'pusher:unsubscribe', data: { channel } });
                  // The leave is done once its webhook arrived: the next join is a join again.
                  await within(
                    webhooks.until(() => removals(userId) >= cycle),
                    GUARD_MS,
                    `${userId} leave ${cycle} webhook`,
                  );
                }
              }),
            );
            const count = (name: string, userId?: string) =>
              webhooks.events.filter((e) => e.name === name && (userId === undefined || e.user_id === userId))
                .length;
            await within(
              webhooks.until(() => count('channel_vacated') === count('channel_occupied')),
              GUARD_MS,
              'every occupation vacated',
            );
            // A last round trip through every node: anything still on its way has arrived.
            const marker = 'presence-churn-marker';
            for (const n of nodes) {
              const { client, socketId } = await RawClient.connect(
                `ws://127.0.0.1:${n.port}/app/${APP.key}?protocol=7`,
              );
              clients.push(client);
              const auth = n.sdk.authorizeChannel(socketId, marker, { user_id: n.name });
              await within(client.subscribe(marker, { ...auth }), GUARD_MS, `${n.name} marker`);
              client.send({ event: 'pusher:unsubscribe', data: { channel: marker } });
              await within(
                webhooks.event(
                  (e) => e.name === 'member_removed' && e.channel === marker && e.user_id === n.name,
                ),
                GUARD_MS,
                `${n.name} marker webhook`,
              );
            }
            for (const userId of users) {
              assert.equal(count('member_added', userId), cycles, `${userId} added`);
              assert.equal(count('member_removed', userId), cycles, `${userId} removed`);
              // A node reports a member's join before its leave, and the next join came after that leave.
              const order = webhooks.events.filter((e) => e.user_id === userId).map((e) => e.name);
              const alternating = Array.from({ length: cycles }, () => [
                'member_added',
                'member_removed',
              ]).flat();
              assert.deepEqual(order, alternating, `${userId}: each join reported before its leave`);
            }
            const churn = webhooks.events.filter((e) => e.channel === channel);
            const occupied = churn.filter((e) => e.name === 'channel_occupied').length;
            const vacated = churn.filter((e) => e.name === 'channel_vacated').length;
            assert.ok(occupied >= 1, 'the channel was occupied');
            assert.equal(vacated, occupied, 'every occupation ended in one vacate');
          } finally {
            for (const c of clients) c.close();
          }
        },
      ));

    test('leaving one node and coming back on another within the vacate delay makes no webhooks', () =>
      withWebhookCluster(
        driver,
        sharedUrl,
        'delay',
        {
          timings: { heartbeatMs: 500, nodeTimeoutMs: 5_000, requestTimeoutMs: 2_000 },
          vacateDelayMs: 1_000,
        },
        async (nodes, webhooks) => {
          const [n1, n2] = nodes as [Node, Node, Node];
          const channel = 'presence-hop';
          const first = n1.client('eve');
          const onFirst = await subscribed(first, channel, 'eve@node1');
          await webhooks.event((e) => e.name === 'member_added' && e.channel === channel);
          // Eve's page moves from node1 to node2: she leaves, and is back before the delay is over.
          first.unsubscribe(channel);
          const members = async () =>
            (await n1.get<{ users: unknown[] }>(`/channels/${channel}/users`)).users.length;
          await within(
            (async () => {
              while ((await members()) > 0); // each turn is a request to node1: gone once it handled the leave
            })(),
            GUARD_MS,
            'node1 to see eve leave',
          );
          const onSecond = await subscribed(n2.client('eve'), channel, 'eve@node2');
          assert.deepEqual(presenceIds(onSecond), ['eve']);
          assert.deepEqual(onFirst.members('pusher:member_removed'), []);
          // A removal node1 holds after eve's is released after hers: once it arrived, hers would have.
          const marker = await subscribed(n1.client('mallory'), 'presence-hop-marker', 'marker@node1');
          marker.client.unsubscribe('presence-hop-marker');
          await webhooks.event((e) => e.name === 'channel_vacated' && e.channel === 'presence-hop-marker');
          const hop = () => webhooks.events.filter((e) => e.channel === channel).map((e) => e.name);
          assert.deepEqual(hop(), ['channel_occupied', 'member_added']);

          // Leaving for good: one removal and one vacate, once the delay is over.
          onSecond.client.unsubscribe(channel);
          await webhooks.event((e) => e.name === 'channel_vacated' && e.channel === channel);
          assert.deepEqual(hop(), ['channel_occupied', 'member_added', 'member_removed', 'channel_vacated']);
        },
      ));

    test('a removal held by a node that dies is sent by a survivor, once, when it is due', () =>
      withWebhookCluster(
        driver,
        sharedUrl,
        'orphan',
        {
          timings: { heartbeatMs: 200, nodeTimeoutMs: 1_000, requestTimeoutMs: 1_000 },
          vacateDelayMs: 2_000,
        },
        async (nodes, webhooks, prefix) => {
          const [n1] = nodes as [Node, Node, Node];
          const channel = 'presence-orphan';
          const { client, socketId } = await RawClient.connect(`ws://127.0.0.1:${n1.port}/app/${APP.key}`);
          const auth = n1.sdk.authorizeChannel(socketId, channel, { user_id: 'eve' });
          const reply = await within(client.subscribe(channel, { ...auth }), GUARD_MS, 'eve joins');
          assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
          await within(
            webhooks.event((e) => e.name === 'member_added'),
            GUARD_MS,
            'member_added',
          );
          client.send({ event: 'pusher:unsubscribe', data: { channel } });
          // node1 holds eve's removal and the vacate back; once its outbox has them, it dies.
          await eventually(
            async () => (await outboxEntries(driver, prefix)).filter((e) => e.kind === 'held').length === 2,
            'the held removals in the outbox',
          );
          await n1.stop('SIGKILL');
          await within(
            webhooks.event((e) => e.name === 'channel_vacated'),
            GUARD_MS,
            'a survivor to send the vacate',
          );
          const names = webhooks.events.filter((e) => e.channel === channel).map((e) => e.name);
          assert.deepEqual(names, ['channel_occupied', 'member_added', 'member_removed', 'channel_vacated']);
        },
      ));

    test('requests a node could not deliver before it died are delivered by a survivor', () => {
      let answer = 500;
      return withWebhookCluster(
        driver,
        sharedUrl,
        'undelivered',
        {
          timings: { heartbeatMs: 200, nodeTimeoutMs: 1_000, requestTimeoutMs: 1_000 },
          respond: () => answer,
        },
        async (nodes, webhooks, prefix) => {
          const [n1] = nodes as [Node, Node, Node];
          await subscribed(n1.client('bob'), 'presence-undelivered', 'bob@node1');
          // The receiver is failing: node1 keeps channel_occupied to retry it, member_added queued behind
          // it (a channel's requests go one at a time), and dies.
          await within(
            webhooks.until(() => webhooks.requests.length > 0),
            GUARD_MS,
            'a first, failed attempt',
          );
          await eventually(
            async () =>
              (await outboxEntries(driver, prefix)).filter((e) => e.kind === 'delivery').length === 2,
            'the undelivered requests in the outbox',
          );
          await n1.stop('SIGKILL');
          answer = 200;
          // A survivor delivers them; bob's going (with node1) is reported too.
          await within(
            webhooks.until(() => webhooks.events.length === 4),
            GUARD_MS,
            'four webhooks, two of them taken over',
          );
          const names = webhooks.events.map((e) => e.name).sort();
          assert.deepEqual(names, ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed']);
          assert.ok(
            webhooks.requests.slice(0, -4).every((r) => r.answer === 500),
            'failed attempts',
          );
        },
      );
    });

    test('a rolling restart: clients told to reconnect come back on another node, nobody sees them go', () =>
      withWebhookCluster(
        driver,
        sharedUrl,
        'rolling',
        {
          timings: { heartbeatMs: 200, nodeTimeoutMs: 1_500, requestTimeoutMs: 1_000 },
          vacateDelayMs: 2_000,
        },
        async (nodes, webhooks) => {
          const [n1, n2, n3] = nodes as [Node, Node, Node];
          const channel = 'presence-rolling';
          const bob = await subscribed(n2.client('bob'), channel, 'bob@node2');
          // Alice is on a raw socket, so that she can follow the load balancer to node3 when told to go.
          const join = async (node: Node) => {
            const { client, socketId } = await RawClient.connect(
              `ws://127.0.0.1:${node.port}/app/${APP.key}`,
            );
            const auth = node.sdk.authorizeChannel(socketId, channel, { user_id: 'alice' });
            const reply = await within(
              client.subscribe(channel, { ...auth }),
              GUARD_MS,
              `alice on ${node.name}`,
            );
            assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
            return client;
          };
          const onNode1 = await join(n1);
          await bob.next('pusher:member_added', (m: { id: string }) => m.id === 'alice');
          await webhooks.event((e) => e.name === 'member_added' && e.user_id === 'alice');

          // A WAMP call from node2 to a callee on node1, in flight when node1 stops.
          const callee = await RawWampClient.join(`ws://127.0.0.1:${n1.port}/ws`);
          await callee.register('com.rolling.slow');
          const caller = await RawWampClient.join(`ws://127.0.0.1:${n2.port}/ws`);
          const call = caller.call('com.rolling.slow');
          await within(callee.next(68), GUARD_MS, 'the INVOCATION on node1');

          const marks = [n2, n3].map((n) => n.logs.length);
          const stopping = n1.stop();
          assert.equal((await within(onNode1.closed, GUARD_MS, 'alice told to reconnect')).code, 4200);
          assert.equal((await within(callee.closed, GUARD_MS, 'the callee told to reconnect')).code, 1001);
          const ended = await within(call, GUARD_MS, 'the end of the call to node1');
          assert.deepEqual([ended[0], ended[4]], [8, 'wamp.error.canceled']);
          caller.close();
          const onNode3 = await join(n3);
          await stopping;
          // Once the handover is over the survivors clean up after node1, and alice is still there.
          await Promise.all(
            [n2, n3].map((n, i) =>
              n.log((r) => r.msg === 'handover over: cleaning up after the node', 'the handover', marks[i]),
            ),
          );
          await barrier([n2, n3], channel, [bob]);
          assert.deepEqual(bob.members('pusher:member_removed'), []);
          assert.deepEqual(bob.members('pusher:member_added'), ['alice']);
          assert.deepEqual(presenceIds(bob), ['alice', 'bob']);
          const users = await n2.get<{ users: { id: string }[] }>(`/channels/${channel}/users`);
          assert.deepEqual(users.users.map((u) => u.id).sort(), ['alice', 'bob']);

          // Leaving for good is seen once, by bob and by the webhook receiver.
          onNode3.close();
          await bob.next('pusher:member_removed', (m: { id: string }) => m.id === 'alice');
          await webhooks.event((e) => e.name === 'member_removed' && e.user_id === 'alice');
          const alice = webhooks.events.filter((e) => e.user_id === 'alice').map((e) => e.name);
          assert.deepEqual(alice, ['member_added', 'member_removed']);
        },
      ));

    test('a node stops on SIGTERM, exit code 0, while its broker is down', async () => {
      const broker = await PrivateBroker.create(driver);
      const timings = { heartbeatMs: 200, nodeTimeoutMs: 1_500, requestTimeoutMs: 1_000 };
      let nodes: Node[] = [];
      try {
        await broker.start();
        const prefix = uniquePrefix(`cluster-stop-${driver}`);
        nodes = await startCluster({ driver, url: broker.url, prefix, timings, count: 1 });
        const [node] = nodes as [Node];
        const reader = await subscribed(node.client(), 'public-alone', 'reader');
        const mark = node.logs.length;
        await broker.kill();
        await node.log((r) => /redis reconnecting|nats disconnected/.test(r.msg), 'to lose the broker', mark);
        const closed = new Promise<number>((resolve) =>
          reader.client.connection.bind('state_change', () => {
            if (reader.client.connection.state !== 'connected') resolve(Date.now());
          }),
        );
        const stopping = Date.now();
        await node.stop();
        assert.deepEqual(await node.exited, { code: 0, signal: null });
        // Clean-up it cannot write costs at most shutdownTimeoutMs (default 5 s) and the goodbye it
        // cannot send at most the request timeout: bounded, not the whole outage.
        const took = Date.now() - stopping;
        assert.ok(took < 5_000 + timings.requestTimeoutMs + 2_000, `stopped after ${took} ms`);
        assert.ok((await closed) >= stopping, 'its client was let go first');
      } finally {
        try {
          await stopAll(nodes);
        } finally {
          await broker.destroy();
        }
      }
    });

    test('a broker restart mid-session: local service goes on, then the cluster heals', async () => {
      const broker = await PrivateBroker.create(driver);
      const prefix = uniquePrefix(`cluster-restart-${driver}`);
      // The outage below outlasts the node timeout: no node may take the others for dead.
      const timings = { heartbeatMs: 200, nodeTimeoutMs: 1_500, requestTimeoutMs: 1_000 };
      let nodes: Node[] = [];
      try {
        await broker.start();
        nodes = await startCluster({ driver, url: broker.url, prefix, timings });
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const channel = 'public-restart';
        const readers = await Promise.all(
          nodes.map((n) => subscribed(n.client(), channel, `reader@${n.name}`)),
        );
        const [r1, r2, r3] = readers as [Watch, Watch, Watch];
        const alice = await subscribed(n1.client('alice'), 'presence-restart', 'alice@node1');
        const bob = await subscribed(n2.client('bob'), 'presence-restart', 'bob@node2');
        await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'bob');
        await n1.sdk.trigger(channel, 'before', {});
        for (const r of readers) await r.next('before');

        const marks = nodes.map((n) => n.logs.length);
        await broker.kill();
        // Every node notices it is cut off, and stays so for longer than the node timeout.
        await Promise.all(
          nodes.map((n, i) => n.log((r) => r.msg === 'cut off from the broker', 'to be cut off', marks[i])),
        );

        // Meanwhile each node still serves its own clients: a trigger reaches node2's reader...
        const during = n2.sdk.trigger(channel, 'during', { n: 1 });
        await r2.next('during');
        // ...and a newcomer on node3 subscribes to a channel new to the cluster.
        const late = await subscribed(n3.client(), 'public-late', 'late@node3');
        // A presence subscription needs the shared store. NATS requests time out during the outage and
        // the client is told, with nothing left half-joined (Redis queues the commands until it is back).
        if (driver === 'nats') {
          const daveClient = n3.client('dave');
          const dave = new Watch('dave@node3', daveClient, daveClient.subscribe('presence-outage'));
          const refusal = await dave.next<{ type: string; status: number }>('pusher:subscription_error');
          assert.deepEqual([refusal.type, refusal.status], ['ServerError', 503]);
          assert.deepEqual(dave.all('pusher:subscription_succeeded'), []);
        }

        const reconnected = nodes.map((n) => n.logs.length);
        await broker.start();
        const back = await Promise.all(
          nodes.map(async (n, i) => {
            const record = await n.log((r) => r.msg === 'back on the broker', 'to be back', reconnected[i]);
            // The NATS stores have connections of their own: each that dropped must be back too.
            const dropped = new Set(
              n.logs.slice(marks[i]).flatMap((r) => (r.msg === 'nats disconnected' ? [r.client] : [])),
            );
            for (const client of dropped) {
              await n.log(
                (r) => r.msg === 'nats reconnected' && r.client === client,
                `${client} back`,
                marks[i],
              );
            }
            return record;
          }),
        );
        // node2 published 'during' for the others while cut off, and says so.
        assert.ok((back[1]!.publishedWhileCutOff as number) >= 1, JSON.stringify(back[1]));
        assert.equal((await during).status, 200);

        await n1.sdk.trigger(channel, 'after', { n: 2 });
        for (const r of [r1, r2, r3]) assert.deepEqual(await r.next('after'), { n: 2 });
        await n1.sdk.trigger('public-late', 'after', { n: 3 });
        assert.deepEqual(await late.next('after'), { n: 3 });
        // Nobody was taken for gone: presence is intact and keeps working.
        for (const n of nodes) {
          const { users } = await n.get<{ users: { id: string }[] }>('/channels/presence-restart/users');
          assert.deepEqual(users.map((u) => u.id).sort(), ['alice', 'bob'], n.name);
          const outage = await n.get<{ users: { id: string }[] }>('/channels/presence-outage/users');
          assert.deepEqual(outage.users, [], `${n.name}: a refused member is not a member`);
        }
        const carol = await subscribed(n3.client('carol'), 'presence-restart', 'carol@node3');
        assert.deepEqual(presenceIds(carol), ['alice', 'bob', 'carol']);
        for (const w of [alice, bob])
          await w.next('pusher:member_added', (m: { id: string }) => m.id === 'carol');
        await barrier(nodes, 'presence-restart', [alice, bob, carol]);
        for (const w of [alice, bob, carol]) assert.deepEqual(w.members('pusher:member_removed'), [], w.name);
        for (const n of nodes) {
          assert.deepEqual(
            n.logs.filter((r) => r.msg.startsWith('node down')),
            [],
            `${n.name} took a live node for dead`,
          );
        }
      } finally {
        try {
          await stopAll(nodes);
        } finally {
          await broker.destroy();
        }
      }
    });

    test('--workers 2: one port, both workers serve, a dead worker is replaced, SIGTERM stops them all', async () => {
      const prefix = uniquePrefix(`cluster-workers-${driver}`);
      const timings = { heartbeatMs: 200, nodeTimeoutMs: 1_500, requestTimeoutMs: 1_000 };
      const env = nodeEnv({ prefix, timings });
      const node = await Node.start('workers', ['--workers', '2', `--${driver}-url`, sharedUrl], env);
      const clients: RawClient[] = [];
      try {
        // Each worker logs that it listens (the supervisor says it too, with `workers`), then hears the other.
        const workers = new Map<number, number>(); // pid → the port it listens on
        const listening = (since: number, count: number) =>
          node.log(
            (r) => {
              const m = /listening on http:\/\/127\.0\.0\.1:(\d+)$/.exec(r.msg);
              if (m && r.workers === undefined) workers.set(r.pid as number, Number(m[1]));
              return workers.size === count;
            },
            `${count} workers listening`,
            since,
          );
        await listening(0, 2);
        assert.deepEqual([...new Set(workers.values())], [node.port], 'the workers share the port');
        const heard = new Set<number>();
        await node.log((r) => {
          if (r.msg === 'node up') heard.add(r.pid as number);
          return heard.size === 2;
        }, 'each worker to hear the other');

        const channel = 'presence-workers';
        const url = `ws://127.0.0.1:${node.port}/app/${APP.key}?protocol=7`;
        const join = async (userId: string) => {
          const { client, socketId } = await RawClient.connect(url);
          clients.push(client);
          const auth = node.sdk.authorizeChannel(socketId, channel, { user_id: userId });
          const reply = await within(client.subscribe(channel, { ...auth }), GUARD_MS, `${userId} join`);
          assert.equal(reply.event, 'pusher_internal:subscription_succeeded', JSON.stringify(reply));
          return { userId, client, reply, gone: false };
        };
        const members: Awaited<ReturnType<typeof join>>[] = [];
        for (let i = 0; i < 10; i++) members.push(await join(`user${i}`));
        const users = async () =>
          (await node.get<{ users: { id: string }[] }>(`/channels/${channel}/users`)).users
            .map((u) => u.id)
            .sort();
        assert.deepEqual(await users(), members.map((m) => m.userId).sort());

        // One worker dies: its clients are cut off, the other worker removes their members.
        for (const m of members) void m.client.closed.then(() => (m.gone = true));
        const [victim, survivor] = [...workers.keys()] as [number, number];
        const mark = node.logs.length;
        process.kill(victim, 'SIGKILL');
        await node.log((r) => r.msg.startsWith('node down') && r.pid === survivor, 'the survivor', mark);
        const gone = members.filter((m) => m.gone);
        const left = members.filter((m) => !m.gone);
        assert.ok(gone.length > 0 && left.length > 0, `both workers had clients (${gone.length} cut off)`);
        const goneIds = gone.map((m) => m.userId).sort();
        for (const m of left) {
          const heard: string[] = [];
          await within(
            (async () => {
              while (heard.length < goneIds.length) {
                const frame = await m.client.next('pusher_internal:member_removed');
                heard.push((JSON.parse(frame.data as string) as { user_id: string }).user_id);
              }
            })(),
            GUARD_MS,
            `${m.userId} to hear the members leave`,
          );
          assert.deepEqual(heard.sort(), goneIds, `${m.userId} heard each of them leave once`);
        }
        assert.deepEqual(await users(), left.map((m) => m.userId).sort());

        // The supervisor starts another worker, which serves the port as a node of the cluster.
        await listening(mark, 3);
        const late = await join('late');
        const welcome = JSON.parse(late.reply.data as string) as { presence: { ids: string[] } };
        assert.deepEqual(welcome.presence.ids.sort(), [...left.map((m) => m.userId), 'late'].sort());

        const pids = [...workers.keys()];
        await node.stop();
        assert.deepEqual(await node.exited, { code: 0, signal: null });
        for (const pid of pids)
          assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} gone`);
      } finally {
        for (const c of clients) c.close();
        try {
          await node.stop();
        } finally {
          await cleanup(driver, prefix);
        }
      }
    });
  });
}

clusterSuite('redis', REDIS_URL, await brokerSkip('redis'));
clusterSuite('nats', NATS_URL, await brokerSkip('nats'));

/** Two nodes on a Redis of the test's own, started by `starting`; all stopped and removed afterwards. */
async function twoNodesOn<S extends { url: string; destroy(): Promise<void> }>(
  starting: Promise<S>,
  name: string,
  body: (n1: Node, n2: Node, set: S) => Promise<void>,
): Promise<void> {
  const set = await starting;
  let nodes: Node[] = [];
  try {
    nodes = await startCluster({
      driver: 'redis',
      url: set.url,
      prefix: uniquePrefix(`cluster-${name}`),
      timings: { heartbeatMs: 200, nodeTimeoutMs: 10_000, requestTimeoutMs: 2_000 },
      count: 2,
    });
    await body(nodes[0]!, nodes[1]!, set);
  } finally {
    try {
      await stopAll(nodes);
    } finally {
      await set.destroy();
    }
  }
}

test('over Redis Sentinel: two nodes find the master, and find it again after a failover', () =>
  twoNodesOn(SentinelSet.start(), 'sentinel', async (n1, n2, set) => {
    const reader = await subscribed(n2.client(), 'public-sentinel', 'reader@node2');
    const alice = await subscribed(n1.client('alice'), 'presence-sentinel', 'alice@node1');
    await subscribed(n2.client('bob'), 'presence-sentinel', 'bob@node2');
    await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'bob');
    await n1.sdk.trigger('public-sentinel', 'before', {});
    await reader.next('before');

    // The master dies and the Sentinel promotes the replica: each node's bus connections find it.
    const marks = [n1, n2].map((n) => n.logs.length);
    await set.failover();
    await Promise.all(
      [n1, n2].map((n, i) => {
        const ready = new Set<unknown>();
        return n.log(
          (r) => {
            if (r.msg === 'redis ready') ready.add(r.client);
            return ready.size === 2;
          },
          'to reach the new master',
          marks[i],
        );
      }),
    );
    await n1.sdk.trigger('public-sentinel', 'after', {});
    await reader.next('after');
    // The members joined before the failover are on the new master too.
    const carol = await subscribed(n2.client('carol'), 'presence-sentinel', 'carol@node2');
    assert.deepEqual(presenceIds(carol), ['alice', 'bob', 'carol']);
    await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'carol');
    const users = await n1.get<{ users: { id: string }[] }>('/channels/presence-sentinel/users');
    assert.deepEqual(users.users.map((u) => u.id).sort(), ['alice', 'bob', 'carol']);
  }));

test('over a Redis Cluster: presence, events and counts across two nodes', () =>
  twoNodesOn(RedisClusterSet.start(), 'rediscluster', async (n1, n2) => {
    const reader = await subscribed(n2.client(), 'public-rc', 'reader@node2');
    const channels = ['presence-rc-a', 'presence-rc-b', 'presence-rc-c'];
    // Several channels, so that their keys land on different masters.
    for (const channel of channels) {
      const alice = await subscribed(n1.client('alice'), channel, `alice@node1 ${channel}`);
      const bob = await subscribed(n2.client('bob'), channel, `bob@node2 ${channel}`);
      await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'bob');
      assert.deepEqual(presenceIds(bob), ['alice', 'bob']);
      const users = await n1.get<{ users: { id: string }[] }>(`/channels/${channel}/users`);
      assert.deepEqual(users.users.map((u) => u.id).sort(), ['alice', 'bob']);
    }
    await n1.sdk.trigger('public-rc', 'across', { n: 1 });
    assert.deepEqual((await reader.next('across')) as unknown, { n: 1 });
    const info = await n1.get<{ channels: Record<string, unknown> }>('/channels', {
      filter_by_prefix: 'presence-rc',
    });
    assert.deepEqual(Object.keys(info.channels).sort(), channels);
  }));

/** Runs `herald start` with `args`; resolves with its exit code and what it wrote to stderr. */
async function refusedStart(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const [code] = (await within(once(child, 'exit'), GUARD_MS, 'herald to exit')) as [number | null];
  return { code, stderr };
}

test('--workers 2 without a cluster adapter is refused (exit 2)', async () => {
  const { code, stderr } = await refusedStart(['--workers', '2']);
  assert.equal(code, 2);
  assert.match(stderr, /workers: more than one worker needs adapter.driver "redis" or "nats"/);
});

test('--redis-url and --nats-url together are refused (exit 2)', async () => {
  const { code, stderr } = await refusedStart(['--redis-url', REDIS_URL, '--nats-url', NATS_URL]);
  assert.equal(code, 2);
  assert.match(stderr, /--redis-url and --nats-url exclude each other/);
});
