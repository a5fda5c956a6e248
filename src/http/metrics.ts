import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { WebhookStats } from '../webhooks/dispatcher.js';
import type { Router } from './router.js';

/** What the metrics read, at scrape time, from the parts that keep the numbers. */
export interface MetricSources {
  websocketConnections(): number;
  wampSessions(): number;
  webhooks(): Readonly<WebhookStats>;
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
