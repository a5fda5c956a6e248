import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_REALM_ENTRIES, mergeRealmParts, sumSessions } from '../../../src/dashboard/wamp-routes.js';

describe("the realm views' merging of the nodes' answers", () => {
  const a = {
    s: [[1, 'joe', 'user']],
    sub: [['com.news', 'exact', 2]],
    reg: [['com.add', 'exact', 1]],
  };
  const b = {
    s: [[2, 'ann', 'admin']],
    sub: [
      ['com.news', 'exact', 1],
      ['com.', 'prefix', 1],
    ],
    reg: [['com.add', 'exact', 1]],
  };

  test('lists every session and adds up subscribers and callees of the same URI and match', () => {
    assert.deepEqual(mergeRealmParts('realm1', [a, b]), {
      name: 'realm1',
      sessions: [
        { id: 1, authid: 'joe', authrole: 'user' },
        { id: 2, authid: 'ann', authrole: 'admin' },
      ],
      subscriptions: [
        { topic: 'com.news', match: 'exact', subscribers: 3 },
        { topic: 'com.', match: 'prefix', subscribers: 1 },
      ],
      registrations: [{ procedure: 'com.add', match: 'exact', callees: 2 }],
    });
  });

  test('leaves out a malformed part whole', () => {
    const malformed: unknown[] = [
      null,
      [],
      { ...b, s: 'x' },
      { ...b, s: [[-1, 'x', 'y']] },
      { ...b, s: [[1.5, 'x', 'y']] },
      { ...b, s: [[3, 7, 'y']] },
      { ...b, sub: [['com.x', 'fuzzy', 1]] },
      { ...b, sub: [['com.x', 'exact', Number.NaN]] },
      { ...b, reg: [['x'.repeat(2000), 'exact', 1]] },
      { ...b, reg: Array.from({ length: MAX_REALM_ENTRIES + 1 }, () => ['com.x', 'exact', 1]) },
    ];
    for (const bad of malformed) {
      assert.deepEqual(
        mergeRealmParts('realm1', [a, bad]),
        mergeRealmParts('realm1', [a]),
        JSON.stringify(bad)?.slice(0, 60),
      );
    }
  });

  test("sums each realm's sessions over the nodes, ignoring malformed answers", () => {
    const sums = sumSessions([
      [['realm1', 2]],
      [
        ['realm1', 1],
        ['realm2', 4],
      ],
      [['realm1', -3]],
      [['realm1', '5']],
      'x',
      null,
    ]);
    assert.deepEqual(
      [...sums],
      [
        ['realm1', 3],
        ['realm2', 4],
      ],
    );
  });
});
