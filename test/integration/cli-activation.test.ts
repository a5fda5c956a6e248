import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { after, afterEach, describe, test } from 'node:test';
import { GUARD_MS, herald, killRuns, pusherJs, type Run } from '../helpers/cli.js';
import { type HeldSocket, holdSocket } from '../helpers/held-socket.js';
import { connected, nextEvent, pusherSdk } from '../helpers/herald.js';
import type { Pusher } from '../helpers/pusher-js.js';
import { within } from '../helpers/raw-client.js';

/**
 * `herald start` under systemd socket activation (docs/operations.md, systemd): the test holds the
 * sockets as systemd holds a socket unit's and starts Herald with them as descriptors 3 and on,
 * `LISTEN_FDS` and `LISTEN_PID` set. Every socket is bound to port 0 of 127.0.0.1.
 */

const LISTENING = /listening on the socket passed by systemd, http:\/\/127\.0\.0\.1:(\d+)/;

let held: HeldSocket[] = [];
const hold = () => {
  const socket = holdSocket('127.0.0.1');
  held.push(socket);
  return socket;
};
let clients: Pusher[] = [];
afterEach(() => {
  for (const c of clients) c.disconnect();
  clients = [];
  killRuns();
  for (const s of held) s.close();
  held = [];
});
after(killRuns);

async function stop(run: Run): Promise<void> {
  run.child.kill('SIGTERM');
  const { code } = await within(run.exited, GUARD_MS, 'herald to exit');
  assert.equal(code, 0, run.stderr());
}

/** `herald start` on `sockets`; resolves once it says it listens on the first, with its port. */
async function activated(sockets: HeldSocket[], args: string[] = [], env: Record<string, string> = {}) {
  const run = herald(
    ['start', '--port', '0', ...args],
    env,
    sockets.map((s) => s.fd),
  );
  const m = await within(run.waitForStdout(LISTENING), GUARD_MS, 'the listening line');
  return { run, port: Number(m[1]) };
}

const client = (port: number) => {
  const c = pusherJs(port);
  clients.push(c);
  return c;
};

/** An event published through the HTTP API on `port` reaches `c`, subscribed to `channel` first. */
async function delivers(c: Pusher, port: number, channel: string): Promise<void> {
  const ch = c.channel(channel) ?? c.subscribe(channel);
  if (!ch.subscribed) await within(nextEvent(ch, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
  const got = nextEvent<{ n: number }>(ch, 'tick');
  await pusherSdk(port).trigger(channel, 'tick', { n: 1 });
  assert.deepEqual(await within(got, GUARD_MS, 'the event'), { n: 1 });
}

describe('systemd socket activation', () => {
  test('listens on the socket passed as descriptor 3, not on --port, says so, and serves pusher-js', async () => {
    const socket = hold();
    const { run, port } = await activated([socket]);
    assert.equal(port, socket.port);
    const record = run
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((r) => LISTENING.test(String(r.msg)));
    assert.equal(record?.inherited, true);
    const c = client(socket.port);
    await within(connected(c), GUARD_MS, 'pusher-js to connect');
    await delivers(c, socket.port, 'activated');
    await stop(run);
  });

  test('a restart on the same socket: the client told 4200 is back on the new process at its first attempt', async () => {
    const socket = hold();
    const a = await activated([socket]);
    const c = client(socket.port);
    const first = await within(connected(c), GUARD_MS, 'pusher-js to connect');
    const states: string[] = [];
    c.connection.bind('state_change', ({ current }: { current: string }) => states.push(current));
    // A is gone before B starts: the client's immediate retry waits in the socket's queue meanwhile.
    await stop(a.run);
    assert.ok(states.includes('connecting'), `states: ${states.join(', ')}`);
    const b = await activated([socket]);
    const second = await within(connected(c), GUARD_MS, 'pusher-js to reconnect');
    assert.notEqual(second, first);
    // One attempt, and it succeeded: no state of a failed one, nor the wait that follows it.
    assert.deepEqual(states, ['connecting', 'connected']);
    await delivers(c, socket.port, 'after-restart');
    await stop(b.run);
  });

  test('sockets named by LISTEN_FDNAMES: the admin listener on the one named admin', async () => {
    const [admin, pub] = [hold(), hold()];
    const { run, port } = await activated([admin, pub], ['--api-port', '0'], {
      LISTEN_FDNAMES: 'admin:public',
    });
    assert.equal(port, pub.port);
    const m = await within(
      run.waitForStdout(/admin listener \(HTTP API, \/metrics\) on http:\/\/[^:]+:(\d+)/),
      GUARD_MS,
      'the admin listener line',
    );
    assert.equal(Number(m[1]), admin.port);
    const metrics = await fetch(`http://127.0.0.1:${admin.port}/metrics`);
    assert.equal(metrics.status, 200);
    await metrics.text();
    await stop(run);
  });

  test("variables for another process (LISTEN_PID not Herald's) are ignored, as sd_listen_fds does", async () => {
    const socket = hold();
    const run = herald(['start', '--host', '127.0.0.1', '--port', '0'], { LISTEN_PID: '1' }, [socket.fd]);
    const m = await within(
      run.waitForStdout(/listening on http:\/\/127\.0\.0\.1:(\d+)/),
      GUARD_MS,
      'the listening line',
    );
    assert.notEqual(Number(m[1]), socket.port);
    await stop(run);
  });

  test('a LISTEN_FDS that is not a count, or names a descriptor that is no socket: exit 2, said', async () => {
    const socket = hold();
    for (const [env, message] of [
      [{ LISTEN_FDS: 'two' }, /LISTEN_FDS is "two": socket activation needs a count/],
      [{ LISTEN_FDS: '2' }, /LISTEN_FDS is 2 but descriptor 4 is not a socket/],
    ] as const) {
      const run = herald(['start', '--port', '0'], env, [socket.fd]);
      const { code } = await within(run.exited, GUARD_MS, 'herald to exit');
      assert.equal(code, 2, run.stderr());
      assert.match(run.stderr(), message);
      assert.doesNotMatch(run.stderr(), /at .*\.js:\d+/, 'no stack trace');
    }
    const file = openSync(new URL(import.meta.url), 'r');
    try {
      const run = herald(['start', '--port', '0'], {}, [file]);
      const { code } = await within(run.exited, GUARD_MS, 'herald to exit');
      assert.equal(code, 2, run.stderr());
      assert.match(run.stderr(), /descriptor 3 is not a socket/);
    } finally {
      closeSync(file);
    }
  });

  test('--workers with inherited sockets: exit 2, said', async () => {
    const socket = hold();
    const run = herald(
      ['start', '--port', '0', '--workers', '2', '--redis-url', 'redis://127.0.0.1:6379'],
      {},
      [socket.fd],
    );
    const { code } = await within(run.exited, GUARD_MS, 'herald to exit');
    assert.equal(code, 2, run.stderr());
    assert.match(run.stderr(), /--workers \(workers\) cannot share sockets passed by systemd/);
  });
});
