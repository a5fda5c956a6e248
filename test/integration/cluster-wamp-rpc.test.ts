import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AutobahnSession, autobahn, closeAutobahn } from '../helpers/autobahn.js';
import { clusterSuites, onRunningCluster, openWamp, wampError, withOwnCluster } from '../helpers/cluster.js';
import { GUARD_MS, type LogRecord, type Node } from '../helpers/cluster-node.js';
import { within } from '../helpers/raw-client.js';
import { PASSTHRU_ROLES, RawWampClient } from '../helpers/wamp-client.js';

/**
 * WAMP calls on a cluster: a caller on one node reaches callees on the others (WAMP spec, Basic
 * Profile, Remote Procedure Calls), with invocation policies, timeouts, cancels and progressive
 * invocations, and a lookup a stalled node cannot answer is refused as unavailable.
 */

await clusterSuites((driver, sharedUrl) => {
  onRunningCluster(driver, sharedUrl, (nodes) => {
    test('WAMP: a caller on one node reaches callees on the others: results, progress, errors, best match', async () => {
      const [n1, n2, n3] = nodes as [Node, Node, Node];
      const opened = [await openWamp(n1), await openWamp(n2), await openWamp(n3)];
      try {
        const [caller, callee, prefixCallee] = opened.map((o) => o.session) as [
          AutobahnSession,
          AutobahnSession,
          AutobahnSession,
        ];
        const seen: unknown[] = [];
        await callee.register(
          'com.cluster.add2',
          (args, _kwargs, details) => {
            seen.push(details.caller);
            return (args[0] as number) + (args[1] as number);
          },
          { disclose_caller: true },
        );
        await callee.register('com.cluster.countdown', (args, _kwargs, details) => {
          const progress = details.progress as ((args: unknown[]) => void) | undefined;
          for (let i = args[0] as number; i > 0; i--) progress?.([i]);
          return 'liftoff';
        });
        await callee.register('com.cluster.fail', () => {
          throw new autobahn.Error('com.cluster.refused', ['not today'], { code: 7 });
        });
        await prefixCallee.register(
          'com.cluster',
          (_args, _kwargs, details) => `node3 ${details.procedure}`,
          {
            match: 'prefix',
          },
        );

        assert.equal(await caller.call('com.cluster.add2', [2, 3]), 5);
        assert.deepEqual(seen, [caller.id], 'the callee on node2 sees the caller on node1');
        // Exact on node2 beats the prefix on node3; anything else under the prefix goes to node3.
        assert.equal(await caller.call('com.cluster.add2', [40, 2]), 42);
        assert.equal(await caller.call('com.cluster.other'), 'node3 com.cluster.other');
        // A caller on node3 with its own prefix match still reaches node2's exact registration.
        assert.equal(await prefixCallee.call('com.cluster.add2', [1, 1]), 2);

        const progressed: unknown[] = [];
        const countdown = caller.call(
          'com.cluster.countdown',
          [3],
          {},
          { receive_progress: true },
        ) as unknown as {
          then(ok: (v: unknown) => void, err: (e: unknown) => void, progress: (p: unknown) => void): void;
        };
        const final = await new Promise((resolve, reject) =>
          countdown.then(resolve, reject, (p) => progressed.push(p)),
        );
        assert.deepEqual([progressed, final], [[3, 2, 1], 'liftoff']);

        await assert.rejects(
          caller.call('com.cluster.fail'),
          (err: { error?: string; args?: unknown[]; kwargs?: unknown }) => {
            assert.deepEqual(
              [err.error, err.args, err.kwargs],
              ['com.cluster.refused', ['not today'], { code: 7 }],
            );
            return true;
          },
        );
        await assert.rejects(caller.call('org.nowhere.proc'), wampError('wamp.error.no_such_procedure'));
      } finally {
        for (const o of opened) await closeAutobahn(o.connection);
      }
    });

    test('WAMP across nodes: payload passthru calls and publications reach only peers that announced the mode', async () => {
      const [n1, n2, n3] = nodes as [Node, Node, Node];
      const url = (n: Node) => `ws://127.0.0.1:${n.port}/ws`;
      const ppt = { ppt_scheme: 'x_cluster', ppt_serializer: 'cbor' };
      const bytes = new Uint8Array([0, 255, 1, 254]);
      const callee = await RawWampClient.join(url(n2), { details: { roles: PASSTHRU_ROLES } });
      const caller = await RawWampClient.join(url(n1), {
        serialization: 'msgpack',
        details: { roles: PASSTHRU_ROLES },
      });
      const plain = await RawWampClient.join(url(n3), { serialization: 'msgpack' });
      try {
        await callee.register('com.cluster.ppt');
        const request = caller.id();
        caller.send([48, request, ppt, 'com.cluster.ppt', [bytes]]);
        const invocation = await within(callee.next(68), GUARD_MS, 'INVOCATION on node 2');
        assert.deepEqual(invocation[3], ppt);
        callee.send([70, invocation[1], ppt, invocation[4] as unknown[]]);
        const result = await within(caller.reply(request, [50, 8]), GUARD_MS, 'RESULT on node 1');
        assert.deepEqual([result[0], result[2]], [50, ppt]);
        assert.deepEqual([...((result[3] as unknown[])[0] as Uint8Array)], [...bytes]);
        // A caller without the mode, on node 3: the callee's passthru answer cannot reach it.
        const asked = plain.id();
        plain.send([48, asked, {}, 'com.cluster.ppt', ['plain']]);
        const second = await within(callee.next(68), GUARD_MS, 'second INVOCATION');
        callee.send([70, second[1], ppt, [`\0${Buffer.from(bytes).toString('base64')}`]]);
        const refused = await within(plain.reply(asked, [50, 8]), GUARD_MS, 'ERROR on node 3');
        assert.deepEqual([refused[0], refused[4]], [8, 'wamp.error.feature_not_supported']);
        const toCallee = await within(callee.next(8), GUARD_MS, 'ERROR to the callee');
        assert.equal(toCallee[4], 'wamp.error.feature_not_supported');

        const topic = 'com.cluster.ppt.news';
        const onNode2 = await callee.subscribe(topic);
        const onNode3 = await plain.subscribe(topic);
        const published = caller.id();
        caller.send([16, published, { acknowledge: true, ...ppt }, topic, [bytes]]);
        await within(caller.reply(published, [17]), GUARD_MS, 'PUBLISHED');
        const event = await within(
          callee.next((m) => m[0] === 36 && m[1] === onNode2),
          GUARD_MS,
          'EVENT',
        );
        assert.deepEqual(event[3], ppt);
        caller.send([16, caller.id(), {}, topic, ['plain']]);
        const first = await within(
          plain.next((m) => m[0] === 36 && m[1] === onNode3),
          GUARD_MS,
          'plain EVENT',
        );
        assert.deepEqual(first[4], ['plain'], 'node 3’s subscriber without the mode got no passthru event');
      } finally {
        for (const c of [callee, caller, plain]) c.close();
      }
    });

    test('WAMP: a registration shared across nodes follows its invocation policy; a single one is refused elsewhere', async () => {
      const [n1, n2, n3] = nodes as [Node, Node, Node];
      const opened = [await openWamp(n1), await openWamp(n2), await openWamp(n3), await openWamp(n3)];
      try {
        const [caller, onNode2, onNode3, alsoOnNode3] = opened.map((o) => o.session) as [
          AutobahnSession,
          AutobahnSession,
          AutobahnSession,
          AutobahnSession,
        ];
        await onNode2.register('com.cluster.only', () => 'node2');
        await assert.rejects(
          onNode3.register('com.cluster.only', () => 'node3'),
          wampError('wamp.error.procedure_already_exists'),
        );
        await onNode2.register('com.cluster.pool', () => 'node2', { invoke: 'roundrobin' });
        await onNode3.register('com.cluster.pool', () => 'node3', { invoke: 'roundrobin' });
        await assert.rejects(
          alsoOnNode3.register('com.cluster.pool', () => 'node3', { invoke: 'random' }),
          wampError('wamp.error.procedure_exists_with_different_invocation_policy'),
        );
        assert.equal(await caller.call('com.cluster.only'), 'node2');

        // Round robin over both nodes' callees, also for a caller next to one of them.
        for (const from of [caller, onNode2]) {
          const served: unknown[] = [];
          for (let i = 0; i < 4; i++) served.push(await from.call('com.cluster.pool'));
          assert.deepEqual(
            served.sort(),
            ['node2', 'node2', 'node3', 'node3'],
            'each node serves every other call',
          );
        }

        // first: the oldest callee of the cluster; last: the newest.
        for (const invoke of ['first', 'last']) {
          await onNode2.register(`com.cluster.${invoke}`, () => 'node2', { invoke });
          await onNode3.register(`com.cluster.${invoke}`, () => 'node3', { invoke });
        }
        for (const from of [caller, onNode2, onNode3]) {
          assert.equal(await from.call('com.cluster.first'), 'node2');
          assert.equal(await from.call('com.cluster.last'), 'node3');
        }
      } finally {
        for (const o of opened) await closeAutobahn(o.connection);
      }
    });

    test('WAMP across nodes: timeout, cancel, progressive invocations, a departing caller; MessagePack bytes arrive intact', async () => {
      const [n1, n2] = nodes as [Node, Node];
      const url = (n: Node) => `ws://127.0.0.1:${n.port}/ws`;
      const callee = await RawWampClient.join(url(n2));
      const caller = await RawWampClient.join(url(n1), { serialization: 'msgpack' });
      let leaving: RawWampClient | undefined;
      let streamer: RawWampClient | undefined;
      try {
        const registration = await callee.register('com.cluster.slow');
        const invocation = () => within(callee.next(68), GUARD_MS, 'the INVOCATION on node2');
        const interrupt = () => within(callee.next(69), GUARD_MS, 'the INTERRUPT on node2');

        // Bytes from a MessagePack caller reach a JSON callee as WAMP's base64 string, and back as bytes.
        const echo = caller.call('com.cluster.slow', [new Uint8Array([0, 1, 254, 255])]);
        const first = await invocation();
        assert.deepEqual(first.slice(0, 2).concat([first[4]]), [
          68,
          first[1],
          [`\u0000${Buffer.from([0, 1, 254, 255]).toString('base64')}`],
        ]);
        assert.equal(first[2], registration);
        callee.send([70, first[1], {}, first[4]]);
        const echoed = await within(echo, GUARD_MS, 'the RESULT on node1');
        const [bytes] = echoed[3] as [Uint8Array];
        assert.deepEqual([echoed[0], bytes instanceof Uint8Array, [...bytes]], [50, true, [0, 1, 254, 255]]);

        // The dealer-side timeout runs on the callee's node.
        const timedOut = caller.call('com.cluster.slow', [], { timeout: 200 });
        const second = await invocation();
        assert.deepEqual((await within(timedOut, GUARD_MS, 'the timeout'))[4], 'wamp.error.timeout');
        assert.deepEqual(await interrupt(), [69, second[1], { mode: 'killnowait' }]);

        // CANCEL killnowait: canceled at once, the callee interrupted, its late answer dropped.
        const request = caller.id();
        caller.send([48, request, {}, 'com.cluster.slow', []]);
        const third = await invocation();
        caller.send([49, request, { mode: 'killnowait' }]);
        const canceled = await within(caller.reply(request, [8, 50]), GUARD_MS, 'the canceled ERROR');
        assert.deepEqual([canceled[0], canceled[4]], [8, 'wamp.error.canceled']);
        assert.deepEqual(await interrupt(), [69, third[1], { mode: 'killnowait' }]);
        callee.send([70, third[1], {}, ['too late']]);

        // Progressive call invocations: every chunk reaches the same INVOCATION on node2, in order;
        // a chunk of a call the callee has already answered starts nothing.
        const features = { progressive_call_invocations: true, call_canceling: true };
        streamer = await RawWampClient.join(url(n2), { details: { roles: { callee: { features } } } });
        await streamer.register('com.cluster.stream');
        const chunk = (request: number, progress: boolean, arg: string) =>
          caller.send([48, request, progress ? { progress } : {}, 'com.cluster.stream', [arg]]);
        const stream = caller.id();
        chunk(stream, true, 'a');
        chunk(stream, true, 'b');
        chunk(stream, false, 'c');
        const chunks = [];
        for (let i = 0; i < 3; i++) chunks.push(await within(streamer.next(68), GUARD_MS, 'a chunk'));
        assert.deepEqual(
          chunks.map((m) => [m[1], m[3], m[4]]),
          [
            [chunks[0]![1], { progress: true }, ['a']],
            [chunks[0]![1], { progress: true }, ['b']],
            [chunks[0]![1], {}, ['c']],
          ],
        );
        streamer.send([70, chunks[0]![1], {}, ['abc']]);
        const streamed = await within(caller.reply(stream, [50, 8]), GUARD_MS, 'the streamed RESULT');
        assert.deepEqual([streamed[0], streamed[3]], [50, ['abc']]);

        const early = caller.id();
        chunk(early, true, 'x');
        const answered = await within(streamer.next(68), GUARD_MS, 'the first chunk');
        streamer.send([70, answered[1], {}, ['enough']]);
        await within(caller.reply(early, [50, 8]), GUARD_MS, 'the early RESULT');
        chunk(early, false, 'late');
        const after = caller.call('com.cluster.stream', ['next']);
        const next = await within(streamer.next(68), GUARD_MS, 'the next call');
        assert.deepEqual(next[4], ['next'], 'the late chunk started no call');
        streamer.send([70, next[1], {}, []]);
        await within(after, GUARD_MS, 'the next RESULT');

        // A caller that leaves mid-call: the callee on the other node is interrupted.
        leaving = await RawWampClient.join(url(n1));
        leaving.send([48, leaving.id(), {}, 'com.cluster.slow', []]);
        const fourth = await invocation();
        leaving.close();
        assert.deepEqual(await interrupt(), [69, fourth[1], { mode: 'killnowait' }]);
        assert.equal(
          caller.messages.filter((m) => m[0] === 50).length,
          0,
          'no RESULT for the canceled call, whose late YIELD was dropped',
        );
      } finally {
        callee.close();
        caller.close();
        leaving?.close();
        streamer?.close();
      }
    });
  });

  test('WAMP: a lookup a stalled node does not answer refuses the CALL and the REGISTER as unavailable, and says so', () =>
    withOwnCluster(
      driver,
      sharedUrl,
      'wamp-stalled',
      { count: 2, timings: { heartbeatMs: 200, nodeTimeoutMs: 30_000, requestTimeoutMs: 500 } },
      async (nodes) => {
        const [n1, n2] = nodes as [Node, Node];
        const url = (n: Node) => `ws://127.0.0.1:${n.port}/ws`;
        const callee = await RawWampClient.join(url(n2));
        const caller = await RawWampClient.join(url(n1));
        try {
          await callee.register('com.stalled.proc');
          n2.child.kill('SIGSTOP'); // alive for the cluster (its node timeout is long), but silent
          try {
            const since = n1.logs.length;
            const call = await within(caller.call('com.stalled.proc'), GUARD_MS, 'the CALL');
            assert.deepEqual([call[0], call[4]], [8, 'wamp.error.unavailable'], 'not no_such_procedure');
            const request = caller.id();
            caller.send([64, request, {}, 'com.stalled.proc']);
            const refused = await within(caller.reply(request, [65, 8]), GUARD_MS, 'the REGISTER');
            assert.deepEqual([refused[0], refused[4]], [8, 'wamp.error.unavailable'], 'not a second single');
            const count = await within(caller.call('wamp.session.count'), GUARD_MS, 'wamp.session.count');
            assert.deepEqual([count[0], count[4]], [8, 'wamp.error.unavailable'], 'not a partial count');
            const logged = (r: LogRecord) => r.level === 40 && /not every node answered/.test(r.msg);
            const record = await n1.log(logged, 'the refusals logged', since);
            assert.equal(record.procedure, 'com.stalled.proc');
          } finally {
            n2.child.kill('SIGCONT');
          }
          const answered = caller.call('com.stalled.proc');
          const invocation = await within(callee.next(68), GUARD_MS, 'the INVOCATION once node2 is back');
          callee.send([70, invocation[1], {}, ['back']]);
          assert.deepEqual((await within(answered, GUARD_MS, 'the RESULT'))[3], ['back']);
        } finally {
          callee.close();
          caller.close();
        }
      },
    ));
});
