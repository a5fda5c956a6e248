import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CALLEE_LEFT,
  type DealerContext,
  MemoryDealer,
  type Procedure,
} from '../../../../src/protocol/wamp/dealer.js';
import { ProtocolViolation, WampUri } from '../../../../src/protocol/wamp/errors.js';
import { type Dict, MessageType as T } from '../../../../src/protocol/wamp/messages.js';
import { Payload } from '../../../../src/protocol/wamp/payload.js';
import { acknowledged, authorizer, eventLog, FakePeer, silentLogger } from './fake-peer.js';

const KILL_TIMEOUT_MS = 1000;

/** A dealer recording its events in `events` (see `eventLog`); `wamp.test.echo` is its procedure. */
function setup(options: Partial<DealerContext> = {}) {
  const log = eventLog();
  const echo: Procedure = (_caller, args) => Payload.of(args);
  const dealer = new MemoryDealer({
    authorizer,
    logger: silentLogger,
    uriCheck: 'loose',
    events: { registered: log.joined, unregistered: log.left },
    procedure: (uri) => (uri === 'wamp.test.echo' ? echo : undefined),
    killTimeoutMs: KILL_TIMEOUT_MS,
    ...options,
  });
  return { dealer, events: log.lines };
}

/** Registers `callee` and gives the registration ID from its REGISTERED. */
function register(dealer: MemoryDealer, callee: FakePeer, uri: string, options: Dict = {}): number {
  dealer.register(callee, 1, options, uri);
  return acknowledged(callee, T.REGISTERED);
}

/** Calls `uri` as `caller` (request `request`) and gives the INVOCATION `callee` got. */
function invoke(
  dealer: MemoryDealer,
  caller: FakePeer,
  callee: FakePeer,
  request: number,
  uri: string,
  options: Dict = {},
): { id: number; registration: number; details: Dict; args: unknown } {
  dealer.call(caller, request, options, uri, Payload.of([request]));
  const [invocation, ...rest] = callee.take();
  assert.equal(invocation?.[0], T.INVOCATION);
  assert.deepEqual(rest, []);
  const [, id, registration, details, args] = invocation as [number, number, number, Dict, unknown];
  return { id, registration, details, args };
}

const refusal = (uri: string) => (err: { uri?: string }) => err.uri === uri;
/** ERROR for CALL `request` with `uri`, as a caller gets it (the router's explanation left out). */
const callError = (m: unknown[] | undefined) => m?.slice(0, 5);

const CANCELING = { callee: ['call_canceling'] };

/**
 * Calls `slow` as `caller` and cancels at once with `options`: the caller must get ERROR `canceled`
 * straight away. Gives the INVOCATION's ID.
 */
function cancelAtOnce(
  dealer: MemoryDealer,
  caller: FakePeer,
  callee: FakePeer,
  request: number,
  options: Dict,
) {
  const { id } = invoke(dealer, caller, callee, request, 'slow');
  dealer.cancel(caller, request, options);
  assert.deepEqual(callError(caller.take()[0]), [T.ERROR, T.CALL, request, {}, WampUri.CANCELED]);
  return id;
}

describe('MemoryDealer: registering', () => {
  test('REGISTERED with the registration ID; the table is readable through the view', () => {
    const { dealer, events } = setup();
    const callee = new FakePeer(1);
    dealer.register(callee, 3, {}, 'com.add');
    const [[type, request, id]] = callee.take() as [[number, number, number]];
    assert.deepEqual([type, request], [T.REGISTERED, 3]);
    const prefix = register(dealer, callee, 'com.', { match: 'prefix' });
    assert.equal(dealer.registrations.byId(id)?.uri, 'com.add');
    assert.equal(dealer.registrations.lookup('com.', 'prefix')?.id, prefix);
    assert.equal(dealer.registrations.best('com.add')?.id, id);
    assert.equal(dealer.registrations.best('com.sub')?.id, prefix);
    assert.deepEqual(
      dealer.registrations.list('exact').map((r) => r.id),
      [id],
    );
    assert.equal(dealer.registrations.size, 2);
    assert.deepEqual(events, ['+1 exact com.add created', '+1 prefix com. created']);
  });

  test('a second callee is refused unless both share the registration under the same invoke policy', () => {
    const { dealer } = setup();
    const [a, b, c] = [new FakePeer(1), new FakePeer(2), new FakePeer(3)];
    register(dealer, a, 'single');
    assert.throws(() => dealer.register(b, 1, {}, 'single'), refusal(WampUri.PROCEDURE_ALREADY_EXISTS));
    const shared = register(dealer, a, 'shared', { invoke: 'roundrobin' });
    assert.equal(register(dealer, b, 'shared', { invoke: 'roundrobin' }), shared);
    assert.throws(
      () => dealer.register(c, 1, { invoke: 'random' }, 'shared'),
      refusal(WampUri.PROCEDURE_EXISTS_INVOKE),
    );
    assert.throws(() => dealer.register(c, 1, {}, 'shared'), refusal(WampUri.PROCEDURE_ALREADY_EXISTS));
    assert.throws(
      () => dealer.register(a, 1, { invoke: 'roundrobin' }, 'shared'),
      refusal(WampUri.PROCEDURE_ALREADY_EXISTS),
    );
    assert.throws(() => dealer.register(c, 1, { invoke: 'all' }, 'x'), refusal(WampUri.INVALID_ARGUMENT));
  });

  test('bad, reserved and unauthorized procedures are refused; UNREGISTER of another session’s is too', () => {
    const { dealer, events } = setup({ maxRegistrationsPerSession: 1 });
    const callee = new FakePeer(1);
    assert.throws(() => dealer.register(callee, 1, {}, 'a..b'), refusal(WampUri.INVALID_URI));
    assert.throws(() => dealer.register(callee, 1, {}, 'wamp.mine'), refusal(WampUri.INVALID_URI));
    const guest = new FakePeer(2, {}, 'g', 'guest');
    assert.throws(() => dealer.register(guest, 1, {}, 'open.x'), refusal(WampUri.NOT_AUTHORIZED));
    const id = register(dealer, callee, 'p');
    assert.throws(() => dealer.register(callee, 1, {}, 'q'), refusal(WampUri.LIMIT_EXCEEDED));
    assert.throws(() => dealer.unregister(guest, 2, id), refusal(WampUri.NO_SUCH_REGISTRATION));
    dealer.unregister(callee, 5, id);
    assert.deepEqual(callee.take(), [[T.UNREGISTERED, 5]]);
    assert.equal(dealer.registrations.byId(id), undefined);
    assert.deepEqual(events, ['+1 exact p created', '-1 exact p deleted']);
  });
});

describe('MemoryDealer: calling', () => {
  test('CALL → INVOCATION, YIELD → RESULT; a callee ERROR reaches the caller as it was sent', () => {
    const { dealer } = setup();
    const [caller, callee] = [new FakePeer(1), new FakePeer(2)];
    const registration = register(dealer, callee, 'com.add');
    const first = invoke(dealer, caller, callee, 7, 'com.add');
    assert.deepEqual([first.registration, first.details, first.args], [registration, {}, [7]]);
    dealer.yield(callee, first.id, {}, Payload.of([42], { unit: 'm' }));
    assert.deepEqual(caller.take(), [[T.RESULT, 7, {}, [42], { unit: 'm' }]]);

    const second = invoke(dealer, caller, callee, 8, 'com.add');
    assert.notEqual(second.id, first.id);
    dealer.error(callee, {
      requestType: T.INVOCATION,
      request: second.id,
      details: {},
      error: 'com.error.overflow',
      payload: Payload.of(['too big']),
    });
    assert.deepEqual(caller.take(), [[T.ERROR, T.CALL, 8, {}, 'com.error.overflow', ['too big']]]);
    // Answers to a call that is over go nowhere.
    dealer.yield(callee, second.id, {}, undefined);
    assert.deepEqual(caller.take(), []);
    assert.throws(
      () => dealer.error(callee, { requestType: T.CALL, request: second.id, details: {}, error: 'x' }),
      ProtocolViolation,
    );
  });

  test('no registration, a bad URI and a role without permission are refused; router procedures answer', () => {
    const { dealer } = setup();
    const caller = new FakePeer(1);
    assert.throws(() => dealer.call(caller, 1, {}, 'nobody', undefined), refusal(WampUri.NO_SUCH_PROCEDURE));
    assert.throws(() => dealer.call(caller, 1, {}, 'a..b', undefined), refusal(WampUri.INVALID_URI));
    const guest = new FakePeer(2, {}, 'g', 'guest');
    assert.throws(() => dealer.call(guest, 1, {}, 'closed.x', undefined), refusal(WampUri.NOT_AUTHORIZED));
    dealer.call(caller, 4, {}, 'wamp.test.echo', Payload.of(['ping']));
    assert.deepEqual(caller.take(), [[T.RESULT, 4, {}, ['ping']]]);
    // Calls that passed the checks: to no registration, and to the router.
    assert.equal(dealer.stats().calls, 2);
  });

  test('the best registration takes the call: exact, else the longest prefix, else the most specific wildcard', () => {
    const { dealer } = setup();
    const [exact, short, long, wild, wilder] = [1, 2, 3, 4, 5].map((id) => new FakePeer(id)) as [
      FakePeer,
      FakePeer,
      FakePeer,
      FakePeer,
      FakePeer,
    ];
    register(dealer, exact, 'a.b.c');
    register(dealer, short, 'a.', { match: 'prefix' });
    register(dealer, long, 'a.b.', { match: 'prefix' });
    register(dealer, wild, 'x..z', { match: 'wildcard' });
    register(dealer, wilder, 'x.y.', { match: 'wildcard' });
    const caller = new FakePeer(9);
    assert.deepEqual(invoke(dealer, caller, exact, 1, 'a.b.c').details, {});
    assert.deepEqual(invoke(dealer, caller, long, 2, 'a.b.d').details, { procedure: 'a.b.d' });
    assert.deepEqual(invoke(dealer, caller, short, 3, 'a.x').details, { procedure: 'a.x' });
    assert.deepEqual(invoke(dealer, caller, wilder, 4, 'x.y.z').details, { procedure: 'x.y.z' });
    assert.deepEqual(invoke(dealer, caller, wild, 5, 'x.q.z').details, { procedure: 'x.q.z' });
  });

  test('disclose_me and disclose_caller name the caller in the INVOCATION details', () => {
    const { dealer } = setup();
    const caller = new FakePeer(1, {}, 'ann');
    const [plain, disclosing] = [new FakePeer(2), new FakePeer(3)];
    register(dealer, plain, 'p');
    register(dealer, disclosing, 'd', { disclose_caller: true });
    const named = { caller: 1, caller_authid: 'ann', caller_authrole: 'anonymous' };
    assert.deepEqual(invoke(dealer, caller, plain, 1, 'p').details, {});
    assert.deepEqual(invoke(dealer, caller, plain, 2, 'p', { disclose_me: true }).details, named);
    assert.deepEqual(invoke(dealer, caller, disclosing, 3, 'd').details, named);
  });
});

describe('MemoryDealer: progressive results and invocations', () => {
  test('progressive YIELDs become RESULTs with progress for a caller that asked; the final one ends the call', () => {
    const { dealer } = setup();
    const caller = new FakePeer(1);
    const callee = new FakePeer(2, { callee: ['progressive_call_results'] });
    register(dealer, callee, 'stream');
    const { id, details } = invoke(dealer, caller, callee, 5, 'stream', { receive_progress: true });
    assert.deepEqual(details, { receive_progress: true });
    dealer.yield(callee, id, { progress: true }, Payload.of([1]));
    dealer.yield(callee, id, { progress: true }, Payload.of([2]));
    dealer.yield(callee, id, {}, Payload.of([3]));
    assert.deepEqual(caller.take(), [
      [T.RESULT, 5, { progress: true }, [1]],
      [T.RESULT, 5, { progress: true }, [2]],
      [T.RESULT, 5, {}, [3]],
    ]);
  });

  test('a caller that did not ask gets no progressive RESULT, and a callee without the feature is not asked', () => {
    const { dealer } = setup();
    const caller = new FakePeer(1);
    const [able, unable] = [new FakePeer(2, { callee: ['progressive_call_results'] }), new FakePeer(3)];
    register(dealer, able, 'able');
    register(dealer, unable, 'unable');
    const { id } = invoke(dealer, caller, able, 1, 'able');
    dealer.yield(able, id, { progress: true }, Payload.of(['partial']));
    dealer.yield(able, id, {}, Payload.of(['whole']));
    assert.deepEqual(caller.take(), [[T.RESULT, 1, {}, ['whole']]]);
    assert.deepEqual(invoke(dealer, caller, unable, 2, 'unable', { receive_progress: true }).details, {});
  });

  test('progressive call invocations go to one callee under one INVOCATION; chunks after the last are dropped', () => {
    const { dealer } = setup();
    const caller = new FakePeer(1);
    const features = { callee: ['progressive_call_invocations'] };
    const [a, b] = [new FakePeer(2, features), new FakePeer(3, features)];
    register(dealer, a, 'upload', { invoke: 'roundrobin' });
    register(dealer, b, 'upload', { invoke: 'roundrobin' });
    const first = invoke(dealer, caller, a, 4, 'upload', { progress: true });
    assert.deepEqual(first.details, { progress: true });
    dealer.call(caller, 4, { progress: true, disclose_me: true }, 'upload', Payload.of(['chunk']));
    dealer.call(caller, 4, {}, 'upload', Payload.of(['last']));
    assert.deepEqual(a.take(), [
      [T.INVOCATION, first.id, first.registration, { progress: true }, ['chunk']],
      [T.INVOCATION, first.id, first.registration, {}, ['last']],
    ]);
    assert.deepEqual(b.take(), []);
    assert.throws(() => dealer.call(caller, 4, {}, 'upload', undefined), ProtocolViolation);
    dealer.yield(a, first.id, {}, Payload.of(['done']));
    assert.deepEqual(caller.take(), [[T.RESULT, 4, {}, ['done']]]);
  });

  test('a progressive call to a callee without the feature is refused; a call cut short drops its late chunks', () => {
    const { dealer } = setup();
    const caller = new FakePeer(1);
    register(dealer, new FakePeer(2), 'plain');
    assert.throws(
      () => dealer.call(caller, 1, { progress: true }, 'plain', undefined),
      refusal(WampUri.FEATURE_NOT_SUPPORTED),
    );
    const callee = new FakePeer(3, { callee: ['progressive_call_invocations'] });
    register(dealer, callee, 'upload');
    const { id } = invoke(dealer, caller, callee, 2, 'upload', { progress: true });
    dealer.error(callee, { requestType: T.INVOCATION, request: id, details: {}, error: 'com.error.full' });
    assert.deepEqual(caller.take(), [[T.ERROR, T.CALL, 2, {}, 'com.error.full']]);
    dealer.call(caller, 2, { progress: true }, 'upload', Payload.of(['late']));
    assert.deepEqual(callee.take(), []);
  });
});

describe('MemoryDealer: cancel modes', () => {
  test('skip answers canceled at once without INTERRUPT; the late YIELD is dropped', () => {
    const { dealer } = setup();
    const [caller, callee] = [new FakePeer(1), new FakePeer(2, CANCELING)];
    register(dealer, callee, 'slow');
    const id = cancelAtOnce(dealer, caller, callee, 3, { mode: 'skip' });
    assert.deepEqual(callee.take(), []);
    dealer.yield(callee, id, {}, undefined);
    dealer.cancel(caller, 3, { mode: 'skip' });
    assert.deepEqual(caller.take(), []);
  });

  test('killnowait (also no mode) answers canceled at once and sends INTERRUPT killnowait', () => {
    const { dealer } = setup();
    const [caller, callee] = [new FakePeer(1), new FakePeer(2, CANCELING)];
    register(dealer, callee, 'slow');
    for (const [request, options] of [
      [1, { mode: 'killnowait' }],
      [2, {}],
    ] as const) {
      const id = cancelAtOnce(dealer, caller, callee, request, options);
      assert.deepEqual(callee.take(), [[T.INTERRUPT, id, { mode: 'killnowait' }]]);
    }
  });

  test('kill sends INTERRUPT kill and forwards the callee’s answer, whatever it is', () => {
    const { dealer } = setup();
    const [caller, callee] = [new FakePeer(1), new FakePeer(2, CANCELING)];
    register(dealer, callee, 'slow');
    const { id } = invoke(dealer, caller, callee, 1, 'slow');
    dealer.cancel(caller, 1, { mode: 'kill' });
    assert.deepEqual(callee.take(), [[T.INTERRUPT, id, { mode: 'kill' }]]);
    assert.deepEqual(caller.take(), []);
    dealer.cancel(caller, 1, { mode: 'kill' });
    assert.deepEqual(callee.take(), [], 'a repeated CANCEL is ignored');
    dealer.error(callee, {
      requestType: T.INVOCATION,
      request: id,
      details: {},
      error: 'wamp.error.runtime_error',
    });
    assert.deepEqual(caller.take(), [[T.ERROR, T.CALL, 1, {}, 'wamp.error.runtime_error']]);
  });

  test('kill gives up on a callee that never answers after killTimeoutMs: canceled', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { dealer } = setup();
    const [caller, callee] = [new FakePeer(1), new FakePeer(2, CANCELING)];
    register(dealer, callee, 'slow');
    const { id } = invoke(dealer, caller, callee, 1, 'slow');
    dealer.cancel(caller, 1, { mode: 'kill' });
    t.mock.timers.tick(KILL_TIMEOUT_MS - 1);
    assert.deepEqual(caller.take(), []);
    t.mock.timers.tick(1);
    assert.deepEqual(callError(caller.take()[0]), [T.ERROR, T.CALL, 1, {}, WampUri.CANCELED]);
    dealer.yield(callee, id, {}, undefined);
    assert.deepEqual(caller.take(), []);
  });

  test('a callee without call_canceling is never interrupted: every mode is skip', () => {
    const { dealer } = setup();
    const [caller, callee] = [new FakePeer(1), new FakePeer(2)];
    register(dealer, callee, 'slow');
    cancelAtOnce(dealer, caller, callee, 1, { mode: 'kill' });
    cancelAtOnce(dealer, caller, callee, 2, { mode: 'killnowait' });
    assert.deepEqual(callee.take(), []);
  });
});

describe('MemoryDealer: timeouts', () => {
  test('the dealer times a call out: ERROR timeout, INTERRUPT killnowait, the late answer dropped', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { dealer } = setup();
    const [caller, callee] = [new FakePeer(1), new FakePeer(2, CANCELING)];
    register(dealer, callee, 'slow');
    const { id, details } = invoke(dealer, caller, callee, 1, 'slow', { timeout: 100 });
    assert.deepEqual(details, {});
    t.mock.timers.tick(99);
    assert.deepEqual(caller.take(), []);
    t.mock.timers.tick(1);
    assert.deepEqual(callError(caller.take()[0]), [T.ERROR, T.CALL, 1, {}, WampUri.TIMEOUT]);
    assert.deepEqual(callee.take(), [[T.INTERRUPT, id, { mode: 'killnowait' }]]);
    dealer.yield(callee, id, {}, undefined);
    assert.deepEqual(caller.take(), []);
  });

  test('each progressive result restarts the timeout', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { dealer } = setup();
    const caller = new FakePeer(1);
    const callee = new FakePeer(2, { callee: ['progressive_call_results'] });
    register(dealer, callee, 'stream');
    const { id } = invoke(dealer, caller, callee, 1, 'stream', { timeout: 100, receive_progress: true });
    t.mock.timers.tick(90);
    dealer.yield(callee, id, { progress: true }, undefined);
    t.mock.timers.tick(90);
    dealer.yield(callee, id, {}, undefined);
    assert.deepEqual(caller.take(), [
      [T.RESULT, 1, { progress: true }],
      [T.RESULT, 1, {}],
    ]);
    t.mock.timers.tick(1000);
    assert.deepEqual(caller.take(), []);
  });

  test('with forward_timeout the callee gets the timeout and the dealer sets none', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { dealer } = setup();
    const [caller, callee] = [new FakePeer(1), new FakePeer(2)];
    register(dealer, callee, 'slow', { forward_timeout: true });
    const { id, details } = invoke(dealer, caller, callee, 1, 'slow', { timeout: 100 });
    assert.deepEqual(details, { timeout: 100 });
    t.mock.timers.tick(1000);
    assert.deepEqual(caller.take(), []);
    dealer.error(callee, { requestType: T.INVOCATION, request: id, details: {}, error: WampUri.TIMEOUT });
    assert.deepEqual(caller.take(), [[T.ERROR, T.CALL, 1, {}, WampUri.TIMEOUT]]);
  });
});

describe('MemoryDealer: shared registrations', () => {
  /** Three callees sharing `proc` under `invoke`, in that order, and which of them each of `calls` calls reaches. */
  function spread(invoke: string, calls: number, random?: () => number): number[] {
    const { dealer } = setup();
    const callees = [new FakePeer(1), new FakePeer(2), new FakePeer(3)];
    for (const callee of callees) register(dealer, callee, 'proc', { invoke });
    const caller = new FakePeer(9);
    const reached: number[] = [];
    const original = Math.random;
    if (random) Math.random = random;
    try {
      for (let request = 1; request <= calls; request++) {
        dealer.call(caller, request, {}, 'proc', undefined);
        const hit = callees.filter((c) => c.take().length > 0);
        assert.equal(hit.length, 1);
        reached.push(hit[0]!.id);
      }
    } finally {
      Math.random = original;
    }
    return reached;
  }

  test('roundrobin turns over the callees in registration order', () => {
    assert.deepEqual(spread('roundrobin', 7), [1, 2, 3, 1, 2, 3, 1]);
  });

  test('first goes to the oldest callee, last to the newest', () => {
    assert.deepEqual(spread('first', 3), [1, 1, 1]);
    assert.deepEqual(spread('last', 3), [3, 3, 3]);
  });

  test('random draws among the callees', () => {
    const draws = [0, 0.5, 0.99];
    assert.deepEqual(
      spread('random', 3, () => draws.shift()!),
      [1, 2, 3],
    );
  });

  test('roundrobin goes on over the callees that remain when one leaves', () => {
    const { dealer } = setup();
    const callees = [new FakePeer(1), new FakePeer(2), new FakePeer(3)];
    for (const callee of callees) register(dealer, callee, 'proc', { invoke: 'roundrobin' });
    const caller = new FakePeer(9);
    const next = (request: number) => {
      dealer.call(caller, request, {}, 'proc', undefined);
      return callees.find((c) => c.take().length > 0)?.id;
    };
    assert.deepEqual([next(1), next(2)], [1, 2]);
    dealer.removeSession(callees[0]!);
    assert.deepEqual([next(3), next(4), next(5)], [3, 2, 3]);
  });
});

describe('MemoryDealer: sessions leaving', () => {
  test('a callee leaving ends its calls with canceled, and its registrations go', () => {
    const { dealer } = setup();
    const [caller, callee] = [new FakePeer(1), new FakePeer(2)];
    const id = register(dealer, callee, 'proc');
    invoke(dealer, caller, callee, 1, 'proc');
    invoke(dealer, caller, callee, 2, 'proc');
    const gone = dealer.removeSession(callee);
    assert.deepEqual(
      gone.map(({ registration, deleted }) => [registration.id, deleted]),
      [[id, true]],
    );
    assert.deepEqual(caller.take(), [
      [T.ERROR, T.CALL, 1, {}, WampUri.CANCELED, [CALLEE_LEFT]],
      [T.ERROR, T.CALL, 2, {}, WampUri.CANCELED, [CALLEE_LEFT]],
    ]);
    assert.throws(() => dealer.call(caller, 3, {}, 'proc', undefined), refusal(WampUri.NO_SUCH_PROCEDURE));
  });

  test('a caller leaving interrupts its calls (killnowait) at callees that can cancel; their answers are dropped', () => {
    const { dealer } = setup();
    const caller = new FakePeer(1);
    const [canceling, plain] = [new FakePeer(2, CANCELING), new FakePeer(3)];
    register(dealer, canceling, 'a');
    register(dealer, plain, 'b');
    const a = invoke(dealer, caller, canceling, 1, 'a');
    const b = invoke(dealer, caller, plain, 2, 'b');
    assert.deepEqual(dealer.removeSession(caller), []);
    assert.deepEqual(canceling.take(), [[T.INTERRUPT, a.id, { mode: 'killnowait' }]]);
    assert.deepEqual(plain.take(), []);
    dealer.yield(plain, b.id, {}, undefined);
    assert.deepEqual(caller.take(), []);
  });
});
