import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { type TestContext, test } from 'node:test';
import { NATS_URL, REDIS_URL, uniquePrefix } from '../helpers/brokers.js';
import { cleanup, clusterSuites, nodeEnv } from '../helpers/cluster.js';
import { BIN, GUARD_MS, type LogRecord, Node } from '../helpers/cluster-node.js';
import { APP } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';

/**
 * `herald start --workers N`: the workers share one port as nodes of a cluster, SIGTERM stops them all
 * whenever it comes, and a start that asks for workers without a cluster adapter, or for two adapters,
 * is refused (docs/operations.md).
 */

const TIMINGS = { heartbeatMs: 200, nodeTimeoutMs: 1_500, requestTimeoutMs: 1_000 };

/**
 * Once `node` is gone, prints what the supervisor and its workers wrote: for a failure seen once in
 * many runs, it is all there is to go on.
 */
async function printOutput(t: TestContext, node: Node): Promise<void> {
  await node.stop().catch(() => {}); // gone either way; the failure being reported is the first one
  for (const line of await node.output()) t.diagnostic(line);
}

await clusterSuites((driver, sharedUrl) => {
  test('--workers 2: one port, both workers serve, a dead worker is replaced, SIGTERM stops them all', async (t) => {
    const prefix = uniquePrefix(`cluster-workers-${driver}`);
    const env = nodeEnv({ prefix, timings: TIMINGS });
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
    } catch (err) {
      await printOutput(t, node);
      throw err;
    } finally {
      for (const c of clients) c.close();
      try {
        await node.stop();
      } finally {
        await cleanup(driver, prefix);
      }
    }
  });

  // A worker Node is still loading cannot catch the signal yet (it never listened: a clean stop); one in
  // its start has caught it already and stops once it started. The supervisor must exit 0 either way.
  const connected = (r: LogRecord) => r.msg === 'redis ready' || r.msg === 'nats connected';
  const moments: [string, (r: LogRecord) => boolean][] = [
    ['Node loads the workers', (r) => r.msg === 'starting 2 workers'],
    ['a worker connects to the broker', connected],
  ];
  for (const [moment, ready] of moments) {
    test(`--workers 2: SIGTERM while ${moment} stops them all, exit code 0`, async (t) => {
      const prefix = uniquePrefix(`cluster-workers-${driver}`);
      const args = ['--workers', '2', `--${driver}-url`, sharedUrl];
      const node = await Node.launch(
        'workers',
        args,
        nodeEnv({ prefix, timings: TIMINGS }),
        ready,
        `reach "${moment}"`,
      );
      try {
        await node.stop();
        assert.deepEqual(await node.exited, { code: 0, signal: null });
        // Each worker that got as far as the broker caught the signal and stopped as a node does.
        await node.outputEnded();
        const pids = (msg: (r: LogRecord) => boolean) => new Set(node.logs.filter(msg).map((r) => r.pid));
        const stopped = pids((r) => r.msg === 'shutting down');
        for (const pid of pids(connected)) {
          assert.ok(stopped.has(pid), `worker ${pid} stopped gracefully`);
          assert.throws(() => process.kill(pid as number, 0), { code: 'ESRCH' }, `worker ${pid} gone`);
        }
      } catch (err) {
        await printOutput(t, node);
        throw err;
      } finally {
        try {
          await node.stop();
        } finally {
          await cleanup(driver, prefix);
        }
      }
    });
  }
});

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
