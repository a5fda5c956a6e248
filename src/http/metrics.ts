import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { LimitRefusals } from '../core/limit-refusals.js';
import type { AppTraffic, Traffic } from '../core/traffic.js';
import type { AppWebhookStats, WebhookStats } from '../webhooks/dispatcher.js';
import type { RequestCounts } from './request-counts.js';
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
  /** Each app's webhook requests, by app id. */
  appWebhooks(): ReadonlyMap<string, Readonly<AppWebhookStats>>;
  limitRefusals: LimitRefusals;
  /** Each app's (and WAMP realm's) connections and traffic. */
  traffic: AppTraffic;
  /** HTTP requests answered, by route, app and status. */
  httpRequests: RequestCounts;
}

type Labels<L extends string> = Partial<Record<L, string | number>>;

/**
 * A metric whose values are kept elsewhere as plain numbers and read at each scrape: `read` calls
 * `add` once per series. Nothing is done between scrapes, so the counting itself stays a `+=`.
 */
function mirrored<L extends string>(
  registry: Registry,
  kind: 'gauge' | 'counter',
  name: string,
  help: string,
  labelNames: readonly L[],
  read: (add: (labels: Labels<L>, value: number) => void) => void,
): void {
  const collect = function (this: Gauge<L> | Counter<L>) {
    this.reset();
    read((labels, value) => this.inc(labels, value));
  };
  const options = { name, help, labelNames, registers: [registry], collect };
  if (kind === 'gauge') new Gauge(options);
  else new Counter(options);
}

/** A counter whose value is a running total kept elsewhere, read at each scrape. */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): void {
  mirrored(registry, 'counter', name, help, [], (add) => add({}, read()));
}

/**
 * Prometheus metrics of one server: its own registry (several servers may share a process), Node's
 * default process metrics (event-loop lag included), connection gauges, per-app connections and
 * traffic, HTTP requests, and webhook delivery counters. Every metric is listed in docs/operations.md.
 */
export function createMetrics(sources: MetricSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'herald_' });
  mirrored(
    registry,
    'gauge',
    'herald_websocket_connections',
    'Open WebSocket connections (Pusher and WAMP)',
    [],
    (add) => add({}, sources.websocketConnections()),
  );
  mirrored(registry, 'gauge', 'herald_wamp_sessions', 'Open WAMP connections', [], (add) =>
    add({}, sources.wampSessions()),
  );
  addRealmMetrics(registry, sources);
  addAppMetrics(registry, sources);
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
  mirrored(
    registry,
    'counter',
    'herald_limit_refusals_total',
    'Connections, subscriptions and other requests refused by a limit (label: the limit)',
    ['limit'],
    (add) => {
      for (const [limit, count] of sources.limitRefusals.entries()) add({ limit }, count);
    },
  );
  return registry;
}

/** Each WAMP realm's numbers, labelled `realm`. */
function addRealmMetrics(registry: Registry, sources: MetricSources): void {
  const perRealm = (
    kind: 'gauge' | 'counter',
    name: string,
    help: string,
    key: Exclude<keyof RealmMetrics, 'realm'>,
  ) =>
    mirrored(registry, kind, name, help, ['realm'], (add) => {
      for (const realm of sources.wampRealms()) add({ realm: realm.realm }, realm[key]);
    });
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
}

/**
 * Per app: connections and WebSocket traffic (labels `protocol` and `app`, the Pusher app id or the WAMP
 * realm name), client events, HTTP requests and webhook requests.
 */
function addAppMetrics(registry: Registry, sources: MetricSources): void {
  const perApp = (
    kind: 'gauge' | 'counter',
    name: string,
    help: string,
    key: Exclude<keyof Traffic, 'closed' | 'close' | 'clientEvents'>,
  ) =>
    mirrored(registry, kind, name, help, ['protocol', 'app'], (add) => {
      for (const { protocol, app, traffic } of sources.traffic.entries())
        add({ protocol, app }, traffic[key]);
    });
  perApp(
    'gauge',
    'herald_connections',
    'Open connections of the app (for a realm, RawSocket ones too)',
    'connections',
  );
  perApp('counter', 'herald_connections_opened_total', 'WebSocket connections of the app opened', 'opened');
  mirrored(
    registry,
    'counter',
    'herald_connections_closed_total',
    'WebSocket connections of the app closed, by close code',
    ['protocol', 'app', 'code'],
    (add) => {
      for (const { protocol, app, traffic } of sources.traffic.entries()) {
        for (const [code, count] of traffic.closed) add({ protocol, app, code }, count);
      }
    },
  );
  perApp(
    'counter',
    'herald_messages_in_total',
    'WebSocket messages received from clients of the app',
    'messagesIn',
  );
  perApp('counter', 'herald_bytes_in_total', 'Payload bytes of the messages received', 'bytesIn');
  perApp(
    'counter',
    'herald_messages_out_total',
    'WebSocket messages written to clients of the app',
    'messagesOut',
  );
  perApp('counter', 'herald_bytes_out_total', 'Bytes written, WebSocket frame headers included', 'bytesOut');
  mirrored(
    registry,
    'counter',
    'herald_client_events_total',
    'Pusher client events relayed',
    ['app'],
    (add) => {
      for (const { protocol, app, traffic } of sources.traffic.entries())
        if (protocol === 'pusher') add({ app }, traffic.clientEvents);
    },
  );
  mirrored(
    registry,
    'counter',
    'herald_http_requests_total',
    'HTTP requests answered, by route template and status',
    ['route', 'app', 'status'],
    (add) => {
      for (const { route, app, status, count } of sources.httpRequests.entries())
        add({ route, app, status }, count);
    },
  );
  const perAppWebhooks = (name: string, help: string, key: keyof AppWebhookStats) =>
    mirrored(registry, 'counter', name, help, ['app'], (add) => {
      for (const [app, stats] of sources.appWebhooks()) add({ app }, stats[key]);
    });
  perAppWebhooks('herald_webhook_deliveries_total', 'Webhook requests of the app answered 2xx', 'delivered');
  perAppWebhooks(
    'herald_webhook_retries_total',
    'Failed webhook attempts of the app that were retried',
    'retries',
  );
  perAppWebhooks(
    'herald_webhook_failures_total',
    'Webhook requests of the app given up on while being delivered',
    'failures',
  );
}

/** `GET /metrics` in the Prometheus text format. */
export function addMetricsRoute(router: Router, registry: Registry): void {
  router.add('GET', '/metrics', async () => ({
    status: 200,
    contentType: registry.contentType,
    body: await registry.metrics(),
  }));
}
