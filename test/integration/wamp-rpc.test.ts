import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { within } from '../helpers/raw-client.js';
import { CLIENT_ROLES, type RawWampClient, type WampMessage } from '../helpers/wamp-client.js';
import { wampServer } from '../helpers/wamp-server.js';
import { newWampy } from '../helpers/wampy.js';

const KILL_TIMEOUT_MS = 300;

describe('WAMP remote procedure calls', () => {
  const server = wampServer({ wamp: { killTimeoutMs: KILL_TIMEOUT_MS } });
  const join = (options?: Parameters<typeof server.join>[0]) => server.join(options);
  /** A callee that does not announce call_canceling (as autobahn-js and wampy callees). */
  const plainCallee = () =>
    join({
      details: { roles: { ...CLIENT_ROLES, callee: { features: { progressive_call_results: true } } } },
    });
  /** A callee that takes progressive call invocations (no real client announces it). */
  const streamingCallee = () =>
    join({
      details: {
        roles: {
          ...CLIENT_ROLES,
          callee: {
            features: {
              progressive_call_results: true,
              call_canceling: true,
              progressive_call_invocations: true,
            },
          },
        },
      },
    });
  let procedures = 0;
  const procedure = (name = 'proc') => `com.rpc${++procedures}.${name}`;
  const invocation = (callee: RawWampClient, registration?: number) =>
    within(
      callee.next((m) => m[0] === 68 && (registration === undefined || m[2] === registration)),
      2000,
      'INVOCATION',
    );
  const send = (c: RawWampClient, message: WampMessage) => {
    const request = c.id();
    message[1] = request;
    c.send(message);
    return request;
  };
  /** Final RESULT or ERROR of a CALL request. */
  const answer = (c: RawWampClient, request: number) =>
    within(
      c.next(
        (m) =>
          (m[0] === 50 && m[1] === request && !(m[2] as { progress?: boolean }).progress) ||
          (m[0] === 8 && m[2] === request),
      ),
      3000,
      `answer to CALL ${request}`,
    );
  /**
   * A round trip caller → callee → caller through a fresh procedure: whatever the router would have
   * sent either of them before it (same connections, in order) has arrived once this resolves.
   */
  const settle = async (caller: RawWampClient, callee: RawWampClient) => {
    const p = procedure('sentinel');
    const reg = await callee.register(p);
    const request = send(caller, [48, 0, {}, p]);
    const inv = await invocation(callee, reg);
    callee.send([70, inv[1], {}]);
    await answer(caller, request);
  };

  test('a second REGISTER of a single procedure gets procedure_already_exists', async () => {
    const [a, b] = [await join(), await join()];
    const p = procedure();
    await a.register(p);
    for (const c of [b, a]) {
      const request = send(c, [64, 0, {}, p]);
      const reply = await within(c.reply(request, [65, 8]), 2000, 'ERROR');
      assert.deepEqual(reply.slice(0, 5), [8, 64, request, {}, 'wamp.error.procedure_already_exists']);
    }
  });

  test('REGISTER of wamp.* or an invalid URI gets invalid_uri', async () => {
    const c = await join();
    for (const uri of ['wamp.foo', 'com..x', 'com.a b']) {
      const request = send(c, [64, 0, {}, uri]);
      assert.equal((await within(c.reply(request, [65, 8]), 2000, 'ERROR'))[4], 'wamp.error.invalid_uri');
    }
  });

  test('CALL to an unregistered procedure gets no_such_procedure', async () => {
    const c = await join();
    const request = send(c, [48, 0, {}, 'com.nobody.home', [1]]);
    const reply = await answer(c, request);
    assert.deepEqual(reply.slice(0, 5), [8, 48, request, {}, 'wamp.error.no_such_procedure']);
  });

  test('CALL → INVOCATION → YIELD → RESULT, payloads byte for byte in JSON', async () => {
    const [caller, callee] = [await join(), await join()];
    const p = procedure();
    const reg = await callee.register(p);
    caller.send(`[48, 7, {}, "${p}", [2, 3.0, "\\u00e9"], {"x" : 1e2}]`);
    const inv = await invocation(callee, reg);
    assert.deepEqual(inv.slice(0, 4), [68, inv[1], reg, {}]);
    assert.ok((callee.frames.at(-1) as string).endsWith(',{},[2, 3.0, "\\u00e9"],{"x" : 1e2}]'));
    callee.send(`[70, ${inv[1]}, {}, [5 , 5.50]]`);
    const result = await answer(caller, 7);
    assert.deepEqual(result, [50, 7, {}, [5, 5.5]]);
    assert.equal(caller.frames.at(-1), '[50,7,{},[5 , 5.50]]');
  });

  test('a callee ERROR reaches the caller with the same URI, args and kwargs', async () => {
    const [caller, callee] = [await join({ serialization: 'msgpack' }), await join()];
    const p = procedure();
    await callee.register(p);
    const request = send(caller, [48, 0, {}, p, []]);
    const inv = await invocation(callee);
    callee.send([8, 68, inv[1], {}, 'com.app.err', ['bad', 1], { why: 'because' }]);
    assert.deepEqual(await answer(caller, request), [
      8,
      48,
      request,
      {},
      'com.app.err',
      ['bad', 1],
      { why: 'because' },
    ]);
  });

  test('INVOCATION request IDs to one callee count 1, 2, 3 …', async () => {
    const [caller, callee] = [await join(), await join()];
    const [p1, p2] = [procedure(), procedure()];
    await callee.register(p1);
    await callee.register(p2);
    const requests = [
      send(caller, [48, 0, {}, p1]),
      send(caller, [48, 0, {}, p2]),
      send(caller, [48, 0, {}, p1]),
    ];
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await invocation(callee))[1] as number);
    assert.deepEqual(ids, [1, 2, 3]);
    for (const id of ids) callee.send([70, id, {}, [id]]);
    const results = await Promise.all(requests.map((r) => answer(caller, r)));
    assert.deepEqual(
      results.map((r) => r[3]),
      [[1], [2], [3]],
    );
  });

  test('roundrobin alternates, first hits the oldest, last the newest, random reaches all', async () => {
    const caller = await join();
    const callees = [await join(), await join(), await join()];
    // Each callee answers every INVOCATION and records that it served it.
    let who: number[] = [];
    callees.forEach(async (c, k) => {
      for (;;) {
        const inv = await c.next(68);
        who.push(k);
        c.send([70, inv[1], {}]);
      }
    });
    const served = async (p: string, calls: number) => {
      who = [];
      for (let i = 0; i < calls; i++) await answer(caller, send(caller, [48, 0, {}, p]));
      return who;
    };
    for (const [invoke, check] of [
      ['roundrobin', (w: number[]) => assert.deepEqual(w, [0, 1, 2, 0, 1, 2])],
      ['first', (w: number[]) => assert.deepEqual(w, [0, 0, 0, 0, 0, 0])],
      ['last', (w: number[]) => assert.deepEqual(w, [2, 2, 2, 2, 2, 2])],
    ] as const) {
      const p = procedure(invoke);
      const ids = new Set<number>();
      for (const c of callees) ids.add(await c.register(p, { invoke }));
      assert.equal(ids.size, 1, 'callees share one registration');
      check(await served(p, 6));
    }
    const p = procedure('random');
    for (const c of callees) await c.register(p, { invoke: 'random' });
    assert.equal(new Set(await served(p, 40)).size, 3);
  });

  test('a shared REGISTER with another invoke policy fails', async () => {
    const [a, b] = [await join(), await join()];
    const p = procedure();
    await a.register(p, { invoke: 'random' });
    const mismatch = send(b, [64, 0, { invoke: 'roundrobin' }, p]);
    assert.equal(
      (await within(b.reply(mismatch, [65, 8]), 2000, 'ERROR'))[4],
      'wamp.error.procedure_exists_with_different_invocation_policy',
    );
    const single = send(b, [64, 0, {}, p]);
    assert.equal(
      (await within(b.reply(single, [65, 8]), 2000, 'ERROR'))[4],
      'wamp.error.procedure_already_exists',
    );
    const unknown = send(b, [64, 0, { invoke: 'sometimes' }, procedure()]);
    assert.equal((await within(b.reply(unknown, [65, 8]), 2000, 'ERROR'))[4], 'wamp.error.invalid_argument');
  });

  test('exact beats prefix; a prefix call carries Details.procedure', async () => {
    const [caller, prefixCallee, exactCallee] = [await join(), await join(), await join()];
    const base = procedure('a');
    await prefixCallee.register(`${base}.b`, { match: 'prefix' });
    await exactCallee.register(`${base}.b.c`);
    const r1 = send(caller, [48, 0, {}, `${base}.b.c`]);
    const inv1 = await invocation(exactCallee);
    assert.deepEqual(inv1[3], {});
    exactCallee.send([70, inv1[1], {}]);
    await answer(caller, r1);
    const r2 = send(caller, [48, 0, {}, `${base}.b.d`]);
    const inv2 = await invocation(prefixCallee);
    assert.deepEqual(inv2[3], { procedure: `${base}.b.d` });
    prefixCallee.send([70, inv2[1], {}]);
    await answer(caller, r2);
  });

  test('the wildcard with earlier literal components wins', async () => {
    const [caller, first, second] = [await join(), await join(), await join()];
    const base = procedure('w');
    await first.register(`${base}.a1.b2..d4.e5`, { match: 'wildcard' });
    const reg = await second.register(`${base}.a1.b2.c33..e5`, { match: 'wildcard' });
    const request = send(caller, [48, 0, {}, `${base}.a1.b2.c33.d4.e5`]);
    const inv = await invocation(second);
    assert.deepEqual([inv[2], inv[3]], [reg, { procedure: `${base}.a1.b2.c33.d4.e5` }]);
    second.send([70, inv[1], {}]);
    await answer(caller, request);
  });

  test('progressive YIELDs give immediate progress RESULTs, then one final RESULT', async () => {
    const [caller, callee] = [await join(), await join({ serialization: 'msgpack' })];
    const p = procedure();
    await callee.register(p);
    const request = send(caller, [48, 0, { receive_progress: true }, p]);
    const inv = await invocation(callee);
    assert.equal((inv[3] as { receive_progress?: boolean }).receive_progress, true);
    for (const n of [1, 2]) {
      callee.send([70, inv[1], { progress: true }, [n]]);
      assert.deepEqual(await within(caller.next(50), 2000, 'progress'), [
        50,
        request,
        { progress: true },
        [n],
      ]);
    }
    callee.send([70, inv[1], {}, ['done']]);
    assert.deepEqual(await answer(caller, request), [50, request, {}, ['done']]);
  });

  test('without receive_progress the INVOCATION has no receive_progress; progress YIELDs are dropped', async () => {
    const [caller, callee] = [await join(), await join()];
    const p = procedure();
    await callee.register(p);
    const request = send(caller, [48, 0, {}, p]);
    const inv = await invocation(callee);
    assert.equal('receive_progress' in (inv[3] as object), false);
    callee.send([70, inv[1], { progress: true }, ['partial']]);
    callee.send([70, inv[1], {}, ['final']]);
    assert.deepEqual(await answer(caller, request), [50, request, {}, ['final']]);
    assert.deepEqual(caller.messages, []);
  });

  test('disclose_me on CALL and disclose_caller on REGISTER put the caller in INVOCATION.Details', async () => {
    const [caller, callee] = [await join(), await join()];
    const [p1, p2] = [procedure(), procedure()];
    await callee.register(p1);
    await callee.register(p2, { disclose_caller: true });
    for (const [p, options] of [
      [p1, { disclose_me: true }],
      [p2, {}],
    ] as const) {
      const request = send(caller, [48, 0, options, p]);
      const inv = await invocation(callee);
      const details = inv[3] as Record<string, unknown>;
      assert.equal(details.caller, caller.sessionId);
      assert.equal(details.caller_authrole, 'anonymous');
      callee.send([70, inv[1], {}]);
      await answer(caller, request);
    }
    const request = send(caller, [48, 0, {}, p1]);
    const inv = await invocation(callee);
    assert.deepEqual(inv[3], {});
    callee.send([70, inv[1], {}]);
    await answer(caller, request);
  });

  test('CANCEL skip: immediate canceled, no INTERRUPT, the late YIELD is dropped', async () => {
    const [caller, callee] = [await join(), await join()];
    const p = procedure();
    await callee.register(p);
    const request = send(caller, [48, 0, {}, p]);
    const inv = await invocation(callee);
    caller.send([49, request, { mode: 'skip' }]);
    assert.deepEqual((await answer(caller, request)).slice(0, 5), [
      8,
      48,
      request,
      {},
      'wamp.error.canceled',
    ]);
    callee.send([70, inv[1], {}, ['late']]);
    await settle(caller, callee);
    assert.deepEqual(caller.messages, []);
    assert.equal(callee.messages.filter((m) => m[0] === 69).length, 0);
  });

  test('CANCEL kill: INTERRUPT kill, the caller gets the callee ERROR', async () => {
    const [caller, callee] = [await join(), await join()];
    const p = procedure();
    await callee.register(p);
    const request = send(caller, [48, 0, {}, p]);
    const inv = await invocation(callee);
    caller.send([49, request, { mode: 'kill' }]);
    assert.deepEqual(await within(callee.next(69), 2000, 'INTERRUPT'), [69, inv[1], { mode: 'kill' }]);
    callee.send([8, 68, inv[1], {}, 'wamp.error.canceled', ['stopped']]);
    assert.deepEqual(await answer(caller, request), [8, 48, request, {}, 'wamp.error.canceled', ['stopped']]);
  });

  test('CANCEL kill: a callee that never answers is given up after wamp.killTimeoutMs', async () => {
    const [caller, callee] = [await join(), await join()];
    const p = procedure();
    await callee.register(p);
    const request = send(caller, [48, 0, {}, p]);
    await invocation(callee);
    const started = Date.now();
    caller.send([49, request, { mode: 'kill' }]);
    caller.send([49, request, { mode: 'kill' }]);
    await within(callee.next(69), 2000, 'INTERRUPT');
    assert.equal((await answer(caller, request))[4], 'wamp.error.canceled');
    assert.ok(Date.now() - started >= KILL_TIMEOUT_MS - 20);
    assert.equal(callee.messages.filter((m) => m[0] === 69).length, 0, 'one INTERRUPT for two CANCELs');
  });

  test('CANCEL killnowait (and no mode): immediate ERROR, INTERRUPT killnowait, late ERROR dropped', async () => {
    for (const options of [{ mode: 'killnowait' }, {}]) {
      const [caller, callee] = [await join(), await join()];
      const p = procedure();
      await callee.register(p);
      const request = send(caller, [48, 0, {}, p]);
      const inv = await invocation(callee);
      caller.send([49, request, options]);
      assert.equal((await answer(caller, request))[4], 'wamp.error.canceled');
      assert.deepEqual(await within(callee.next(69), 2000, 'INTERRUPT'), [
        69,
        inv[1],
        { mode: 'killnowait' },
      ]);
      callee.send([8, 68, inv[1], {}, 'wamp.error.canceled']);
      await settle(caller, callee);
      assert.deepEqual(caller.messages, []);
    }
  });

  test('a callee without call_canceling never gets INTERRUPT', async () => {
    const caller = await join();
    const callee = await plainCallee();
    const p = procedure();
    await callee.register(p);
    for (const mode of ['kill', 'killnowait', 'skip']) {
      const request = send(caller, [48, 0, {}, p]);
      await invocation(callee);
      caller.send([49, request, { mode }]);
      assert.equal((await answer(caller, request))[4], 'wamp.error.canceled');
    }
    await settle(caller, callee);
    assert.equal(callee.messages.filter((m) => m[0] === 69).length, 0);
  });

  test('timeout:200 gets wamp.error.timeout after about 200 ms, and the callee an INTERRUPT', async () => {
    const [caller, callee] = [await join(), await join()];
    const p = procedure();
    await callee.register(p);
    const started = Date.now();
    const request = send(caller, [48, 0, { timeout: 200 }, p]);
    const inv = await invocation(callee);
    const reply = await answer(caller, request);
    const elapsed = Date.now() - started;
    assert.deepEqual(reply.slice(0, 5), [8, 48, request, {}, 'wamp.error.timeout']);
    assert.ok(elapsed >= 180 && elapsed < 1500, `${elapsed} ms`);
    assert.deepEqual(await within(callee.next(69), 2000, 'INTERRUPT'), [69, inv[1], { mode: 'killnowait' }]);
  });

  test('forward_timeout hands the timeout to the callee instead', async () => {
    const [caller, callee] = [await join(), await join()];
    const p = procedure();
    await callee.register(p, { forward_timeout: true });
    const request = send(caller, [48, 0, { timeout: 50 }, p]);
    const inv = await invocation(callee);
    assert.deepEqual(inv[3], { timeout: 50 });
    callee.send([8, 68, inv[1], {}, 'wamp.error.timeout']);
    assert.equal((await answer(caller, request))[4], 'wamp.error.timeout');
  });

  test('when the callee disconnects mid-call the caller gets canceled', async () => {
    const caller = await join();
    const callee = await join();
    const p = procedure();
    await callee.register(p);
    const request = send(caller, [48, 0, {}, p]);
    await invocation(callee);
    callee.close();
    const reply = await answer(caller, request);
    assert.deepEqual(reply.slice(0, 5), [8, 48, request, {}, 'wamp.error.canceled']);
    const again = send(caller, [48, 0, {}, p]);
    assert.equal((await answer(caller, again))[4], 'wamp.error.no_such_procedure');
  });

  test('when the caller disconnects, a call_canceling callee gets INTERRUPT killnowait, others nothing', async () => {
    const canceling = await join();
    const plain = await plainCallee();
    const caller = await join();
    const [p1, p2] = [procedure(), procedure()];
    await canceling.register(p1);
    await plain.register(p2);
    send(caller, [48, 0, {}, p1]);
    send(caller, [48, 0, {}, p2]);
    const inv1 = await invocation(canceling);
    const inv2 = await invocation(plain);
    caller.close();
    assert.deepEqual(await within(canceling.next(69), 2000, 'INTERRUPT'), [
      69,
      inv1[1],
      { mode: 'killnowait' },
    ]);
    plain.send([70, inv2[1], {}, ['late']]);
    await settle(await join(), plain);
    assert.equal(plain.messages.filter((m) => m[0] === 69).length, 0);
  });

  test('UNREGISTER: UNREGISTERED, then no_such_registration', async () => {
    const c = await join();
    const reg = await c.register(procedure());
    const first = send(c, [66, 0, reg]);
    assert.deepEqual(await within(c.reply(first, [67, 8]), 2000, 'UNREGISTERED'), [67, first]);
    const second = send(c, [66, 0, reg]);
    assert.deepEqual((await within(c.reply(second, [67, 8]), 2000, 'ERROR')).slice(0, 5), [
      8,
      66,
      second,
      {},
      'wamp.error.no_such_registration',
    ]);
  });

  test('progressive call invocations: wampy streams its input to a callee that takes it, under one INVOCATION', async () => {
    const callee = await streamingCallee();
    const p = procedure('sum');
    const registration = await callee.register(p);
    const wampy = newWampy(server.url);
    await wampy.connect();
    try {
      const { result, sendData } = wampy.progressiveCall(p, [1]);
      const first = await invocation(callee, registration);
      assert.deepEqual(first[3], { progress: true });
      assert.deepEqual(first[4], [1]);
      sendData([2], { progress: true });
      sendData([3], { progress: false });
      const second = await invocation(callee, registration);
      const last = await invocation(callee, registration);
      assert.deepEqual([second[1], second[3], second[4]], [first[1], { progress: true }, [2]]);
      assert.deepEqual([last[1], last[3], last[4]], [first[1], {}, [3]]);
      callee.send([70, first[1], {}, [6]]);
      const answer = (await within(result, 3000, 'the result')) as { argsList?: unknown[] };
      assert.deepEqual(answer.argsList, [6]);

      // A callee that does not announce the feature is never sent a progressive INVOCATION.
      const plain = await plainCallee();
      const other = procedure('plain');
      await plain.register(other);
      const refused = wampy.progressiveCall(other, [1]).result;
      await assert.rejects(within(refused, 3000, 'the refusal'), (err: { errorUri?: string }) => {
        assert.equal(err.errorUri, 'wamp.error.feature_not_supported');
        return true;
      });
    } finally {
      await wampy.disconnect().catch(() => {});
    }
  });

  test('a chunk of a progressive call that is already over starts nothing', async () => {
    const callee = await streamingCallee();
    const caller = await join();
    const p = procedure('short');
    const registration = await callee.register(p);
    const request = send(caller, [48, 0, { progress: true }, p, ['a']]);
    const inv = await invocation(callee, registration);
    callee.send([70, inv[1], {}, ['done']]);
    assert.deepEqual((await answer(caller, request)).slice(0, 4), [50, request, {}, ['done']]);
    caller.send([48, request, { progress: true }, p, ['late']]);
    const next = send(caller, [48, 0, {}, p, ['next']]);
    const fresh = await invocation(callee, registration);
    assert.deepEqual(fresh[4], ['next'], 'the late chunk was dropped');
    callee.send([70, fresh[1], {}, ['ok']]);
    assert.equal((await answer(caller, next))[0], 50);
  });

  test('a CALL reusing an in-flight request ID aborts the caller; late or unknown YIELDs are ignored', async () => {
    const [caller, callee] = [await join(), await join()];
    const p = procedure();
    await callee.register(p);
    callee.send([70, 999, {}, ['nobody asked']]);
    callee.send([8, 68, 998, {}, 'com.err']);
    caller.send([48, 50, {}, p]);
    await invocation(callee);
    caller.send([48, 50, {}, p]);
    const abort = await within(caller.next(3), 2000, 'ABORT');
    assert.equal(abort[2], 'wamp.error.protocol_violation');
    await settle(await join(), callee);
  });
});
