/**
 * WAMP RPC round trips (Herald only): callees share one registration (`invoke: 'roundrobin'`) and echo
 * their arguments; callers each keep a window of calls in flight. Callers and callees are load clients
 * in the worker processes (wamp-client.ts). The latency runs from a caller writing the CALL (its time is
 * in the arguments, which come back in the RESULT) to reading the RESULT; the callees' invocation
 * counts show whether the router turned over them evenly.
 */
import { connectOrThrow, measuredPhase, ms } from './measure.js';
import type { ScenarioContext, ScenarioResult } from './scenarios.js';
import { histogramQuantile } from './stats.js';
import { eachSerializer } from './wamp-session.js';

export async function wampRpc(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o, pool } = ctx;
  const results: ScenarioResult[] = [];
  for await (const { serializer, codec } of eachSerializer(ctx, o.wampRpcSerializers, results)) {
    for (const callees of o.wampRpcCallees) {
      for (const callers of o.wampRpcCallers) {
        // A procedure of its own per variant: no callee of the previous one can still be registered.
        const procedure = `com.bench.echo.${serializer}.${callees}.${callers}`;
        try {
          const wamp = { serializer, procedure, invoke: 'roundrobin' };
          await connectOrThrow(ctx, callees, { path: '/ws', role: 'callee', wamp });
          await connectOrThrow(ctx, callers, { path: '/ws', role: 'caller', wamp }, callees);
          const r = await rpcVariant(ctx, callers, callees);
          results.push({ ...r, variant: `${r.variant}, ${codec.protocol}` });
        } finally {
          await pool.all('closeAll');
        }
      }
    }
  }
  return results;
}

/** One run of the callers and callees already connected. */
async function rpcVariant(ctx: ScenarioContext, callers: number, callees: number): Promise<ScenarioResult> {
  const { o, pool } = ctx;
  await pool.all('resetCounts', { seqCheck: false });
  const running = pool.all('wampCalls', { window: o.wampRpcWindow, durationMs: o.warmupMs + o.measureMs });
  const { s, w } = await measuredPhase(ctx);
  const runs = await running;
  const invocations = (await pool.all('wampCallees')).flatMap((r) => r.invocations);
  const sum = (k: 'sent' | 'answered' | 'errors') => runs.reduce((n, r) => n + r[k], 0);
  const [sent, answered, errors] = [sum('sent'), sum('answered'), sum('errors')];
  const invoked = invocations.reduce((a, b) => a + b, 0);
  const spread = Math.max(...invocations) - Math.min(...invocations);
  const notes: string[] = [];
  if (answered < sent) notes.push(`${sent - answered} of ${sent} calls never answered`);
  if (invoked !== answered - errors) {
    notes.push(`callees were invoked ${invoked} times for ${answered - errors} calls answered with a RESULT`);
  }
  // Round robin over callees that are all there from the start: each gets every n-th call.
  if (spread > 1) notes.push(`roundrobin uneven: invocations per callee ${invocations.join(', ')}`);
  return {
    variant: `${callers} caller${callers > 1 ? 's' : ''} × ${o.wampRpcWindow} in flight, ${callees} callee${callees > 1 ? 's' : ''} (roundrobin)`,
    metrics: {
      calls_per_s: s.received / w.secs,
      p50_ms: ms(histogramQuantile(s.hist, 0.5)),
      p99_ms: ms(histogramQuantile(s.hist, 0.99)),
      cpu_us_per_call: w.serverUs / s.received,
      callee_spread: spread,
      failed_calls: errors + (sent - answered),
      clients_cpu_pct: w.clientsPct,
    },
    checks: { sent, answered, answeredWithError: errors, invocations, open: s.open, errors: s.errors },
    notes,
  };
}
