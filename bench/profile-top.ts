#!/usr/bin/env node
/**
 * The hot spots of a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --cpu-prof`): functions by
 * self time, and by the time of everything they call.
 *
 *   node dist/bench/profile-top.js <file.cpuprofile> [count]      (after npm run build)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The parts of a V8 `.cpuprofile` read here. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas?: number[];
}

const [file, countArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node dist/bench/profile-top.js <file.cpuprofile> [count]');
  process.exit(2);
}
const count = Number(countArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Sample counts per node, weighted by the time each sample stands for.
const selfUs = new Map<number, number>();
const deltas = profile.timeDeltas ?? [];
profile.samples.forEach((id, i) => {
  const dt = deltas[i + 1] ?? deltas[i] ?? 0;
  selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
});
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

const label = (n: ProfileNode) => {
  const f = n.callFrame;
  const where = f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
};

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const key = label(nodes.get(id)!);
  self.set(key, (self.get(key) ?? 0) + us);
  // Each function on the stack counts once per sample, however often it recurses.
  const seen = new Set();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const k = label(nodes.get(at)!);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + us);
  }
}

const show = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  const rows = [...map].sort((a, b) => b[1] - a[1]).slice(0, count);
  for (const [k, us] of rows) {
    console.log(
      `${((us / totalUs) * 100).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`,
    );
  }
};
console.log(`${file}: ${(totalUs / 1e6).toFixed(1)} s sampled`);
show('Self time', self);
show('Total time (self + callees)', inclusive);
