import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { LimitRefusals } from '../core/limit-refusals.js';
import type { WebhookStats } from '../webhooks/dispatcher.js';
import type { Router } from './router.js';

/**
 * One WAMP realm's numbers as the metrics read them: the shape of the WAMP router's realm stats, declared
 * here so that http/ does not import the protocol.
 */
export interface RealmMetrics {
  readonly realm: string;
  readonly sessions: number;
  readonly subscriptions: number;
  readonly registrations: number;
  readonly retainedTopics: number;
  readonly retainedBytes: number;
  readonly published: number;
  readonly delivered: number;
  readonly calls: number;
}

/** What the metrics read, at scrape time, from the parts that keep the numbers. */
export interface MetricSources {
  websocketConnections(): number;
  wampSessions(): number;
  wampRealms(): readonly RealmMetrics[];
  webhooks(): Readonly<WebhookStats>;
  limitRefusals: LimitRefusals;
}

/** A counter whose value is a running total kept elsewhere, read at each scrape. */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/**
 * Prometheus metrics of one server: its own registry (several servers may share a process), Node's
 * default process metrics, connection gauges and webhook delivery counters.
 */
export function createMetrics(sources: MetricSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'herald_' });
  new Gauge({
    name: 'herald_websocket_connections',
    help: 'Open WebSocket connections (Pusher and WAMP)',
    registers: [registry],
    collect() {
      this.set(sources.websocketConnections());
    },
  });
  new Gauge({
    name: 'herald_wamp_sessions',
    help: 'Open WAMP connections',
    registers: [registry],
    collect() {
      this.set(sources.wampSessions());
    },
  });
  const perRealm = (
    kind: 'gauge' | 'counter',
    name: string,
    help: string,
    key: Exclude<keyof RealmMetrics, 'realm'>,
  ) => {
    const collect = function (this: Gauge<'realm'> | Counter<'realm'>) {
      this.reset();
      for (const realm of sources.wampRealms()) this.inc({ realm: realm.realm }, realm[key]);
    };
    const options = { name, help, labelNames: ['realm'] as const, registers: [registry], collect };
    if (kind === 'gauge') new Gauge(options);
    else new Counter(options);
  };
  perRealm('gauge', 'herald_wamp_realm_sessions', 'WAMP sessions joined to the realm', 'sessions');
  perRealm('gauge', 'herald_wamp_subscriptions', 'WAMP subscriptions in the realm', 'subscriptions');
  perRealm('gauge', 'herald_wamp_registrations', 'WAMP registrations in the realm', 'registrations');
  perRealm(
    'gauge',
    'herald_wamp_retained_topics',
    'WAMP topics whose last event is retained',
    'retainedTopics',
  );
  perRealm(
    'gauge',
    'herald_wamp_retained_bytes',
    'Bytes of retained WAMP events, as maxRetainedBytes counts them',
    'retainedBytes',
  );
  perRealm('counter', 'herald_wamp_publications_total', 'WAMP publications routed', 'published');
  perRealm('counter', 'herald_wamp_events_total', 'WAMP EVENTs sent to subscribers', 'delivered');
  perRealm('counter', 'herald_wamp_calls_total', 'WAMP CALLs routed', 'calls');
  const stat = (key: keyof WebhookStats) => () => sources.webhooks()[key];
  mirroredCounter(registry, 'herald_webhooks_queued_total', 'Webhook requests queued', stat('queued'));
  mirroredCounter(
    registry,
    'herald_webhooks_delivered_total',
    'Webhook requests answered 2xx',
    stat('delivered'),
  );
  mirroredCounter(
    registry,
    'herald_webhooks_failed_attempts_total',
    'Webhook attempts that failed and were retried or dropped',
    stat('failedAttempts'),
  );
  mirroredCounter(
    registry,
    'herald_webhooks_dropped_total',
    'Webhook requests given up on (retries exhausted or pending at shutdown)',
    stat('dropped'),
  );
  mirroredCounter(
    registry,
    'herald_webhooks_shed_total',
    'Webhook requests refused by a full queue',
    stat('shed'),
  );
  new Counter({
    name: 'herald_limit_refusals_total',
    help: 'Connections, subscriptions and other requests refused by a limit (label: the limit)',
    labelNames: ['limit'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [limit, count] of sources.limitRefusals.entries()) this.inc({ limit }, count);
    },
  });
  return registry;
}

/** `GET /metrics` in the Prometheus text format. */
export function addMetricsRoute(router: Router, registry: Registry): void {
  router.add('GET', /^\/metrics$/, async () => ({
    status: 200,
    contentType: registry.contentType,
    body: await registry.metrics(),
  }));
}
