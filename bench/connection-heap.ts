#!/usr/bin/env node
/**
 * What an idle Pusher connection holds in Herald's heap (docs/performance.md, "Memory"): starts Herald
 * (`bin/herald.js`, with `--heapsnapshot-signal`), takes a heap snapshot, opens N connections that each
 * subscribe to one of 100 public channels, takes another, and lists the heap's growth per connection
 * by constructor (strings, arrays, code and V8's hidden objects each as one kind).
 *
 *   node dist/bench/connection-heap.js [connections]      (after npm run build; default 10000)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { APP, spawnNode } from './lib/servers.js';

const N = Number(process.argv[2] ?? 10_000);
const BATCH = 200;
const root = path.resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'herald-heap-'));
const port = 30_000 + Math.floor(Math.random() * 20_000);
const config = { host: '127.0.0.1', port, logLevel: 'warn', connectionRatePerAddress: null, apps: [APP] };
writeFileSync(path.join(dir, 'herald.json'), JSON.stringify(config));
const herald = spawnNode(
  ['--heapsnapshot-signal=SIGUSR2', path.join(root, 'bin/herald.js'), 'start', '--config', 'herald.json'],
  { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_ENV: 'production' } },
);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A heap snapshot of Herald, by kind, once node has finished writing it. */
async function snapshot(): Promise<Map<string, { count: number; bytes: number }>> {
  const before = new Set(readdirSync(dir));
  herald.kill('SIGUSR2');
  for (;;) {
    await sleep(1000);
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    try {
      return byKind(path.join(dir, file));
    } catch {
      // Still being written.
    }
  }
}

/** Bytes and objects by kind: a constructor's name, or what V8 calls a string, array or code. */
function byKind(file: string): Map<string, { count: number; bytes: number }> {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const [type, name, size] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const kinds = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < heap.nodes.length; i += fields.length) {
    const t = types[heap.nodes[i + type]!]!;
    const kind = /string/.test(t)
      ? '(strings)'
      : t === 'object' || t === 'closure' || t === 'native'
        ? heap.strings[heap.nodes[i + name]!]!
        : `(${t}) ${heap.strings[heap.nodes[i + name]!]}`;
    const k = kinds.get(kind) ?? { count: 0, bytes: 0 };
    k.count++;
    k.bytes += heap.nodes[i + size]!;
    kinds.set(kind, k);
  }
  return kinds;
}

async function connect(channel: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${APP.key}?protocol=7&client=js&version=8.4.0`);
  await new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { event: string };
      if (frame.event === 'pusher:connection_established')
        ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
      if (frame.event === 'pusher_internal:subscription_succeeded') resolve();
    });
  });
  return ws;
}

try {
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    await sleep(200);
  }
  const empty = await snapshot();
  const sockets: WebSocket[] = [];
  for (let i = 0; i < N; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, N - i) }, (_, k) =>
      connect(`channel-${(i + k) % 100}`),
    );
    sockets.push(...(await Promise.all(batch)));
  }
  await sleep(2000);
  const full = await snapshot();
  for (const ws of sockets) ws.terminate();
  let total = 0;
  const rows: [string, number, number][] = [];
  for (const [kind, k] of full) {
    const before = empty.get(kind) ?? { count: 0, bytes: 0 };
    total += k.bytes - before.bytes;
    rows.push([kind, (k.count - before.count) / N, (k.bytes - before.bytes) / N]);
  }
  rows.sort((a, b) => b[2] - a[2]);
  console.log(`Node ${process.version}; ${N} idle connections: ${(total / N).toFixed(0)} bytes of heap each`);
  for (const [kind, count, bytes] of rows.filter((r) => r[2] >= 8)) {
    console.log(`${bytes.toFixed(0).padStart(6)} B  ${count.toFixed(2).padStart(5)} per conn  ${kind}`);
  }
} finally {
  herald.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
