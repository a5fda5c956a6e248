#!/usr/bin/env node
/**
 * The hot spots of a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --cpu-prof`): functions by
 * self time, by the time of everything they call, by the kind of code that ran, and by part: each sample's time goes to what ran
 * (native code and system calls, Node's JavaScript, a dependency's, Herald's) under the nearest Herald
 * function on its stack, so that Node's and the kernel's work on Herald's behalf is charged to the
 * Herald code that asked for it. With `--per N` the times are divided by N (requests, connections,
 * messages in the profile) and shown in µs.
 *
 *   node dist/bench/profile-top.js <file.cpuprofile> [count] [--per N]      (after npm run build)
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

const args = process.argv.slice(2);
const perAt = args.indexOf('--per');
const per = perAt < 0 ? undefined : Number(args.splice(perAt, 2)[1]);
const [file, countArg] = args;
if (!file || (per !== undefined && !(per > 0))) {
  console.error('usage: node dist/bench/profile-top.js <file.cpuprofile> [count] [--per N]');
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

/** What ran, by where its code comes from. */
const kind = (n: ProfileNode): string => {
  const { functionName, url } = n.callFrame;
  if (/^\((idle|garbage collector|program|root)\)$/.test(functionName)) return functionName;
  if (url === '') return 'native';
  if (url.startsWith('node:')) return 'Node';
  if (url.includes('/node_modules/')) return 'dependency';
  return url.includes('/src/') ? 'Herald' : 'other';
};
const isHerald = (n: ProfileNode) => kind(n) === 'Herald';

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const parts = new Map<string, number>();
const kinds = new Map<string, number>();
for (const [id, us] of selfUs) {
  const ran = nodes.get(id)!;
  let caller: number | undefined = id;
  while (caller !== undefined && !isHerald(nodes.get(caller)!)) caller = parent.get(caller);
  const what = kind(ran);
  const part = what.startsWith('(')
    ? what
    : `${what} under ${caller === undefined ? '(no Herald function)' : label(nodes.get(caller)!)}`;
  parts.set(part, (parts.get(part) ?? 0) + us);
  kinds.set(what, (kinds.get(what) ?? 0) + us);
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
    const time =
      per === undefined
        ? `${(us / 1000).toFixed(0).padStart(7)} ms`
        : `${(us / per).toFixed(2).padStart(8)} µs`;
    console.log(`${((us / totalUs) * 100).toFixed(1).padStart(6)}%  ${time}  ${k}`);
  }
};
console.log(
  `${file}: ${(totalUs / 1e6).toFixed(1)} s sampled${per === undefined ? '' : `, per 1 of ${per}`}`,
);
show('Self time', self);
show('Total time (self + callees)', inclusive);
show('By kind of code', kinds);
show('By part (what ran, under the nearest Herald function)', parts);
