import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { openAutobahn } from './autobahn.js';
import {
  brokerSkip,
  deleteRedisPrefix,
  destroyNatsBuckets,
  NATS_URL,
  REDIS_URL,
  uniquePrefix,
} from './brokers.js';
import { GUARD_MS, Node, stopAll } from './cluster-node.js';
import { APP } from './herald.js';
import type { RawClient } from './raw-client.js';
import { within } from './raw-client.js';
import { type Responder, WebhookReceiver } from './webhook-receiver.js';

/**
 * Herald as a cluster of real processes sharing Redis, and again sharing NATS: starting the nodes of
 * a cluster, the suites the cluster tests declare once per broker, and clean-up of the broker state a
 * cluster leaves behind.
 */

export type Driver = 'redis' | 'nats';

export interface Timings {
  heartbeatMs: number;
  nodeTimeoutMs: number;
  requestTimeoutMs: number;
}

export interface ClusterOptions {
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

/** The environment of a node: the test app, the cluster's prefix and timings, the webhook if any. */
export function nodeEnv(options: Omit<ClusterOptions, 'driver' | 'url' | 'count'>): Record<string, string> {
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
    HERALD_WAMP_REALMS: JSON.stringify([
      { name: 'realm1', roles: WAMP_TRUSTED_ROLES, eventHistory: CLUSTER_EVENT_HISTORY },
    ]),
  };
}

/** The event history of realm1 in a cluster: the newest 5 events of `com.history.*`. */
export const CLUSTER_EVENT_HISTORY = [{ uri: 'com.history.', match: 'prefix', limit: 5 }];

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

/**
 * Starts the nodes one after the other and waits until each knows all the others. The last node gets
 * its broker through `--redis-url`/`--nats-url` instead of the environment.
 */
export async function startCluster(options: ClusterOptions): Promise<Node[]> {
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
export async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  await within(
    (async () => {
      while (!(await check()));
    })(),
    GUARD_MS,
    what,
  );
}

/** An autobahn-js session on `node`'s WAMP route, realm1. */
export const openWamp = (node: Node) =>
  openAutobahn({ url: `ws://127.0.0.1:${node.port}/ws`, realm: 'realm1' });

/** For `assert.rejects`: the call or registration failed with WAMP error `uri`. */
export const wampError = (uri: string) => (err: { error?: string }) => {
  assert.equal(err.error, uri);
  return true;
};

/**
 * Runs `body` on a cluster of its own (with the prefix of its keys and topics); the clients it puts in
 * `raws` are closed afterwards.
 */
export async function withOwnCluster(
  driver: Driver,
  url: string,
  name: string,
  options: { timings: Timings; count?: number; appFields?: Record<string, unknown> },
  body: (nodes: Node[], raws: RawClient[], prefix: string) => Promise<void>,
): Promise<void> {
  const prefix = uniquePrefix(`cluster-${name}-${driver}`);
  let nodes: Node[] = [];
  const raws: RawClient[] = [];
  try {
    nodes = await startCluster({ driver, url, prefix, ...options });
    await body(nodes, raws, prefix);
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
export const MEMBERSHIP_WEBHOOKS = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'];

/**
 * Runs `body` on a fresh cluster whose nodes post webhooks (every occupancy and membership one unless
 * `webhookEvents` says which) to a fresh receiver; stops the nodes and forgets their shared state
 * afterwards. Without `timings` the nodes run with Herald's defaults.
 */
export async function withWebhookCluster(
  driver: Driver,
  url: string,
  name: string,
  options: { timings?: Timings; vacateDelayMs?: number; respond?: Responder; webhookEvents?: string[] },
  body: (nodes: Node[], webhooks: WebhookReceiver, prefix: string) => Promise<void>,
): Promise<void> {
  const prefix = uniquePrefix(`cluster-${name}-${driver}`);
  const { respond, webhookEvents = MEMBERSHIP_WEBHOOKS, ...timing } = options;
  const webhooks = await WebhookReceiver.start(respond);
  let nodes: Node[] = [];
  try {
    nodes = await startCluster({
      driver,
      url,
      prefix,
      webhookUrl: webhooks.url,
      webhookEvents,
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

/** Removes what a cluster under `prefix` left on its broker. */
export async function cleanup(driver: Driver, prefix: string, url?: string): Promise<void> {
  if (driver === 'redis') await deleteRedisPrefix(prefix, url);
  else
    await destroyNatsBuckets(
      prefix,
      ['presence', 'occupancy', 'cache', 'outbox', 'history', 'channel-history'],
      url,
    );
}

/**
 * Declares `body`'s tests once per broker, each time in a suite named `a cluster of three processes
 * over <driver>`, skipped when that broker is not running here.
 */
export async function clusterSuites(body: (driver: Driver, sharedUrl: string) => void): Promise<void> {
  for (const [driver, url] of [
    ['redis', REDIS_URL],
    ['nats', NATS_URL],
  ] as const) {
    const skip = await brokerSkip(driver);
    describe(`a cluster of three processes over ${driver}`, { skip }, () => body(driver, url));
  }
}

/**
 * Declares, inside a driver's suite, the suite `on a running cluster`: its tests share three nodes,
 * started before the first and stopped after the last. `nodes` is filled once they are up.
 */
export function onRunningCluster(driver: Driver, sharedUrl: string, body: (nodes: Node[]) => void): void {
  describe('on a running cluster', () => {
    const prefix = uniquePrefix(`cluster-${driver}`);
    const nodes: Node[] = [];
    before(async () => {
      nodes.push(
        ...(await startCluster({
          driver,
          url: sharedUrl,
          prefix,
          timings: { heartbeatMs: 200, nodeTimeoutMs: 3_000, requestTimeoutMs: 2_000 },
        })),
      );
    });
    after(async () => {
      try {
        await stopAll(nodes);
      } finally {
        await cleanup(driver, prefix);
      }
    });
    body(nodes);
  });
}
