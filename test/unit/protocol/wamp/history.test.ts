import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryHistoryStore } from '../../../../src/core/history/memory.js';
import type { HistoryStore } from '../../../../src/core/history/store.js';
import type { LimitName } from '../../../../src/core/limit-refusals.js';
import { EventHistory, type EventHistoryOptions } from '../../../../src/protocol/wamp/history.js';
import { uriId } from '../../../../src/protocol/wamp/ids.js';
import { Payload } from '../../../../src/protocol/wamp/payload.js';
import { type PublishOptions, publishOptions } from '../../../../src/protocol/wamp/publish-options.js';
import { FakePeer, silentLogger } from './fake-peer.js';

const PLAIN: PublishOptions = publishOptions({});
const RULES = [
  { uri: 'com.a', match: 'exact' as const, limit: 2 },
  { uri: 'com.', match: 'prefix' as const, limit: 3 },
  { uri: '..', match: 'wildcard' as const, limit: 1 },
];

function setup(options: Partial<EventHistoryOptions> = {}) {
  const refused: LimitName[] = [];
  const history = new EventHistory(RULES, {
    store: new MemoryHistoryStore(),
    namespace: 'wamp:realm1',
    maxEventBytes: 512,
    logger: silentLogger,
    refused: (limit) => refused.push(limit),
    ...options,
  });
  return { history, refused };
}

describe('EventHistory', () => {
  test('each rule keeps its newest events; a rule answers to the ID of its subscription', async () => {
    const { history } = setup();
    const exact = history.rule('com.a', 'exact')!;
    const prefix = history.rule('com.', 'prefix')!;
    assert.equal(exact.id, uriId('subscription', 'com.a', 'exact', new Set()));
    assert.equal(history.ruleById(prefix.id), prefix);
    assert.equal(history.rule('com.a', 'prefix'), undefined);
    for (let p = 1; p <= 4; p++) {
      await history.record(p % 2 ? 'com.a' : 'com.b', p, {}, PLAIN, Payload.of([p], { n: p }));
    }
    const reader = new FakePeer(9);
    const onExact = await history.events(exact, 10, reader);
    assert.deepEqual(
      onExact.map((e) => [e.publication, e.topic, e.args, e.kwargs, e.details]),
      [
        [3, 'com.a', [3], { n: 3 }, {}],
        [1, 'com.a', [1], { n: 1 }, {}],
      ],
    );
    const onPrefix = await history.events(prefix, 2, reader);
    assert.deepEqual(
      onPrefix.map((e) => [e.publication, e.details.topic, e.subscription]),
      [
        [4, 'com.b', prefix.id],
        [3, 'com.a', prefix.id],
      ],
    );
    assert.equal(history.record('org.x', 5, {}, PLAIN), undefined, 'no rule: nothing to wait for');
  });

  test('not kept: session lists, wamp.* topics, events over maxEventBytes (counted); authid and authrole lists filter reads', async () => {
    const { history, refused } = setup();
    const prefix = history.rule('com.', 'prefix')!;
    assert.equal(history.record('com.x', 1, {}, publishOptions({ exclude: [5] })), undefined);
    assert.equal(history.record('com.x', 2, {}, publishOptions({ eligible: [5] })), undefined);
    assert.equal(history.record('com.x', 3, {}, PLAIN, Payload.of(['x'.repeat(600)])), undefined);
    assert.equal(history.record('wamp.session.on_join', 6, {}, PLAIN), undefined, 'though `..` matches it');
    assert.ok(history.record('org.a.b', 7, {}, PLAIN) instanceof Promise, '`..` keeps org.a.b');
    assert.deepEqual(refused, ['wamp_history_bytes']);
    await history.record('com.x', 4, {}, publishOptions({ eligible_authrole: ['admin'] }));
    await history.record('com.x', 5, {}, publishOptions({ exclude_authid: ['authid-1'] }));
    const anonymous = new FakePeer(1);
    const admin = new FakePeer(2, {}, 'authid-2', 'admin');
    assert.deepEqual(await history.events(prefix, 10, anonymous), []);
    assert.deepEqual(
      (await history.events(prefix, 10, admin)).map((e) => e.publication),
      [5, 4],
    );
  });

  test('a store that does not answer holds record back no longer than appendWaitMs', async () => {
    const stalled: HistoryStore = {
      append: () => new Promise<void>(() => {}),
      latest: async () => [],
      close: async () => {},
    };
    const { history } = setup({ store: stalled, appendWaitMs: 20 });
    const kept = history.record('com.a', 1, {}, PLAIN);
    assert.ok(kept instanceof Promise);
    assert.equal(await kept, undefined);
  });
});
