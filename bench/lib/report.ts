/** Medians, paired Herald/Soketi ratios, and the markdown report. */
import { METRICS, type Metric, type ScenarioResult } from './scenarios.js';
import type { SoketiStatus } from './soketi.js';
import { median, round } from './stats.js';

/** The first line of a run's results: the machine, the servers and the options. */
export interface RunMeta {
  type: 'meta';
  startedAt: string;
  node: string;
  cpus: number;
  cpuModel: string;
  memGb: number;
  loadavg: number[];
  fdHardLimit: number;
  herald: { root: string; commit: string; dirty: boolean; nodeOptions?: string };
  soketi: SoketiStatus;
  rounds: number;
  quick: boolean;
  options: object;
}

/** One server's run of one scenario variant in one round, or the error that ended its scenario. */
export interface ResultRecord extends Partial<ScenarioResult> {
  type: 'result';
  scenario: string;
  server: string;
  round: number;
  loadavg: number[];
  seconds?: number;
  error?: string;
}

/** One metric of one variant: each server's values by round and their medians, and the paired ratios. */
export interface Summary {
  type: 'summary';
  scenario: string;
  variant: string | undefined;
  metric: string;
  better: Metric['better'];
  herald: { median: number; values: number[] };
  soketi: { median: number; values: number[] };
  ratio: { median: number; values: number[] };
}

/**
 * Groups result records by scenario, variant and metric: the values of each server by round, their
 * medians, and the median of the per-round Herald/Soketi ratios (pairs come from the same round).
 */
export function summarise(records: ResultRecord[]): Summary[] {
  const groups = new Map<
    string,
    {
      scenario: string;
      variant: string | undefined;
      metric: string;
      byServer: Record<string, Record<string, number>>;
    }
  >();
  for (const r of records) {
    if (r.type !== 'result' || !r.metrics) continue;
    for (const [metric, value] of Object.entries(r.metrics)) {
      const key = `${r.scenario}\u0000${r.variant}\u0000${metric}`;
      let g = groups.get(key);
      if (!g) {
        g = { scenario: r.scenario, variant: r.variant, metric, byServer: {} };
        groups.set(key, g);
      }
      const byRound = g.byServer[r.server] ?? {};
      byRound[r.round] = value;
      g.byServer[r.server] = byRound;
    }
  }
  const summaries: Summary[] = [];
  for (const g of groups.values()) {
    const herald = g.byServer.herald ?? {};
    const soketi = g.byServer.soketi ?? {};
    const ratios = Object.keys(herald)
      .filter((round) => round in soketi && soketi[round] !== 0 && Number.isFinite(soketi[round]))
      .map((round) => herald[round]! / soketi[round]!);
    summaries.push({
      type: 'summary',
      scenario: g.scenario,
      variant: g.variant,
      metric: g.metric,
      better: METRICS[g.metric]?.better ?? 'info',
      herald: { median: median(Object.values(herald)), values: Object.values(herald) },
      soketi: { median: median(Object.values(soketi)), values: Object.values(soketi) },
      ratio: { median: median(ratios), values: ratios },
    });
  }
  return summaries;
}

const fmt = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : String(round(x, 3)));

/** The markdown report: one table per scenario, then whatever checks failed. */
export function markdown({
  meta,
  summaries,
  records,
  descriptions,
}: {
  meta: RunMeta;
  summaries: Summary[];
  records: ResultRecord[];
  descriptions: Record<string, string>;
}): string {
  const lines: string[] = [];
  lines.push(`# Herald vs Soketi — ${meta.startedAt}`, '');
  lines.push(
    `${meta.rounds} round(s) per scenario, servers alternating A/B (Herald first in odd rounds); ` +
      'each cell is the median over rounds, the ratio column the median of per-round Herald/Soketi ratios.',
  );
  lines.push(
    `Machine: ${meta.cpus}× ${meta.cpuModel}, ${meta.memGb} GiB, Node ${meta.node}, ` +
      `load average at start ${meta.loadavg.join(' ')}.`,
  );
  const flags = meta.herald.nodeOptions ? `, run with \`node ${meta.herald.nodeOptions}\`` : '';
  lines.push(`Herald: ${meta.herald.commit}${meta.herald.dirty ? ' (uncommitted changes)' : ''}${flags}.`);
  lines.push(
    meta.soketi.ok
      ? `Soketi: ${meta.soketi.version} (uWebSockets.js from ${meta.soketi.uws}).`
      : `Soketi: not run — ${meta.soketi.reason}.`,
  );
  if (meta.quick) lines.push('', '**Quick run** (reduced sizes and durations): not for publishing.');
  lines.push('');
  const byScenario = new Map<string, Summary[]>();
  for (const s of summaries) {
    if (!byScenario.has(s.scenario)) byScenario.set(s.scenario, []);
    byScenario.get(s.scenario)!.push(s);
  }
  for (const [scenario, rows] of byScenario) {
    lines.push(`## ${scenario}`, '');
    if (descriptions[scenario]) lines.push(descriptions[scenario], '');
    lines.push(
      '| Variant | Metric | Herald | Soketi | Herald/Soketi |',
      '| --- | --- | ---: | ---: | ---: |',
    );
    for (const s of rows) {
      const m = METRICS[s.metric];
      const arrow = m?.better === 'higher' ? ' ↑' : m?.better === 'lower' ? ' ↓' : '';
      lines.push(
        `| ${s.variant} | ${m?.label ?? s.metric}${arrow} | ${fmt(s.herald.median)} | ${fmt(s.soketi.median)} | ${fmt(s.ratio.median)} |`,
      );
    }
    lines.push('');
  }
  const problems: string[] = [];
  for (const r of records) {
    if (r.type !== 'result') continue;
    const where = `${r.scenario} / ${r.variant ?? '–'} / ${r.server} round ${r.round}`;
    if (r.error) problems.push(`- ${where}: **error** ${r.error.split('\n')[0]}`);
    for (const note of r.notes ?? []) problems.push(`- ${where}: ${note}`);
    const c = (r.checks ?? {}) as { failedRequests?: number; errors?: Record<string, number> };
    const m = r.metrics ?? {};
    if (c.failedRequests) problems.push(`- ${where}: ${c.failedRequests} publish requests failed`);
    if (m.incomplete) problems.push(`- ${where}: ${m.incomplete} subscribers did not get every message`);
    if (m.undelivered) problems.push(`- ${where}: ${m.undelivered} client events not delivered`);
    if (m.member_event_errors)
      problems.push(`- ${where}: ${m.member_event_errors} observers saw wrong member events`);
    if (c.errors && Object.keys(c.errors).length > 0) {
      problems.push(`- ${where}: client-side errors ${JSON.stringify(c.errors).slice(0, 300)}`);
    }
  }
  lines.push('## Checks and notes', '');
  lines.push(...(problems.length > 0 ? problems : ['Every check passed.']), '');
  return lines.join('\n');
}
