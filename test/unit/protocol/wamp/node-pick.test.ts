import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { NodeRegistration } from '../../../../src/protocol/wamp/dealer-messages.js';
import { type NodeDraw, NodeTurns, pickNode } from '../../../../src/protocol/wamp/node-pick.js';
import type { InvokePolicy } from '../../../../src/protocol/wamp/registrations.js';
import type { MatchPolicy } from '../../../../src/protocol/wamp/uri.js';

/** A node's registration with `callees` callees, the oldest at `oldest` and the newest at `newest`. */
function reg(
  node: string,
  uri: string,
  match: MatchPolicy = 'exact',
  invoke: InvokePolicy = 'single',
  { callees = 1, oldest = 0, newest = oldest }: { callees?: number; oldest?: number; newest?: number } = {},
): NodeRegistration {
  return { node, uri, match, invoke, callees, oldest, newest };
}

/** Draws that fail the test when asked: the registrations alone must decide. */
const noDraw: NodeDraw = {
  turn: () => assert.fail('no round-robin turn expected'),
  random: () => assert.fail('no random draw expected'),
};

/** Draws that always give `turn` and `random`, recording the round-robin keys asked. */
function fixedDraw(turn: number, random = 0): NodeDraw & { keys: string[] } {
  const keys: string[] = [];
  return {
    keys,
    turn: (key, slots) => {
      keys.push(key);
      return turn % slots;
    },
    random: () => random,
  };
}

describe('pickNode: the best registration across nodes', () => {
  test('no registration matches: no node', () => {
    assert.equal(pickNode('a.b', [], noDraw), undefined);
    assert.equal(pickNode('a.b', [reg('n1', 'a.c'), reg('n2', 'b.', 'prefix')], noDraw), undefined);
  });

  test('exact beats prefix beats wildcard, whichever node answered first', () => {
    const exact = reg('n3', 'a.b.c');
    const prefix = reg('n1', 'a.', 'prefix');
    const wildcard = reg('n2', 'a..c', 'wildcard');
    assert.equal(pickNode('a.b.c', [prefix, wildcard, exact], noDraw), 'n3');
    assert.equal(pickNode('a.b.c', [wildcard, prefix], noDraw), 'n1');
    assert.equal(pickNode('a.b.c', [wildcard], noDraw), 'n2');
  });

  test('the longest prefix wins', () => {
    const found = [reg('n1', 'a.', 'prefix'), reg('n2', 'a.b.', 'prefix'), reg('n3', 'a.b', 'prefix')];
    assert.equal(pickNode('a.b.c', found, noDraw), 'n2');
    assert.equal(pickNode('a.bx', found, noDraw), 'n3');
    assert.equal(pickNode('a.x', found, noDraw), 'n1');
  });

  test('the most specific wildcard wins: a literal at the first position where they differ', () => {
    const found = [
      reg('n1', 'a..c', 'wildcard'),
      reg('n2', 'a.b.', 'wildcard'),
      reg('n3', '.b.c', 'wildcard'),
    ];
    assert.equal(pickNode('a.b.c', found, noDraw), 'n2');
    assert.equal(pickNode('a.x.c', found, noDraw), 'n1');
    assert.equal(pickNode('x.b.c', found, noDraw), 'n3');
  });

  test('a registration on one node only goes there, whatever its policy', () => {
    for (const invoke of ['single', 'roundrobin', 'random', 'first', 'last'] as const) {
      const found = [reg('n2', 'a.b', 'exact', invoke, { callees: 3 }), reg('n1', 'a.', 'prefix', invoke)];
      assert.equal(pickNode('a.b', found, noDraw), 'n2');
    }
  });
});

describe('pickNode: a registration shared by several nodes', () => {
  test('roundrobin turns over the callees of every node, in node order', () => {
    const found = [
      reg('n2', 'a.b', 'exact', 'roundrobin', { callees: 1 }),
      reg('n1', 'a.b', 'exact', 'roundrobin', { callees: 2 }),
    ];
    const picked = [0, 1, 2, 3].map((turn) => pickNode('a.b', found, fixedDraw(turn)));
    assert.deepEqual(picked, ['n1', 'n1', 'n2', 'n1']);
    const draw = fixedDraw(0);
    pickNode('a.', [reg('n1', 'a.', 'prefix', 'roundrobin'), reg('n2', 'a.', 'prefix', 'roundrobin')], draw);
    assert.deepEqual(draw.keys, ['prefix a.']);
  });

  test('random draws among the callees of every node', () => {
    const found = [
      reg('n1', 'a.b', 'exact', 'random', { callees: 1 }),
      reg('n2', 'a.b', 'exact', 'random', { callees: 3 }),
    ];
    assert.equal(pickNode('a.b', found, fixedDraw(0, 0)), 'n1');
    assert.equal(pickNode('a.b', found, fixedDraw(0, 0.24)), 'n1');
    assert.equal(pickNode('a.b', found, fixedDraw(0, 0.25)), 'n2');
    assert.equal(pickNode('a.b', found, fixedDraw(0, 0.999)), 'n2');
  });

  test('first goes to the node of the oldest callee, last to that of the newest', () => {
    const found = [
      reg('n1', 'a.b', 'exact', 'first', { callees: 2, oldest: 20, newest: 50 }),
      reg('n2', 'a.b', 'exact', 'first', { callees: 1, oldest: 10, newest: 10 }),
      reg('n3', 'a.b', 'exact', 'first', { callees: 1, oldest: 30, newest: 40 }),
    ];
    assert.equal(pickNode('a.b', found, noDraw), 'n2');
    const last = found.map((r) => ({ ...r, invoke: 'last' as const }));
    assert.equal(pickNode('a.b', last, noDraw), 'n1');
  });
});

describe('pickNode: counts', () => {
  test('the callees are counted, never listed: a count as large as a number holds still picks', () => {
    const found = [
      reg('n1', 'a.b', 'exact', 'roundrobin', { callees: Number.MAX_SAFE_INTEGER }),
      reg('n2', 'a.b', 'exact', 'roundrobin', { callees: 1 }),
    ];
    assert.equal(pickNode('a.b', found, fixedDraw(Number.MAX_SAFE_INTEGER)), 'n2');
    assert.equal(pickNode('a.b', found, fixedDraw(5)), 'n1');
    const random = found.map((r) => ({ ...r, invoke: 'random' as const }));
    assert.equal(pickNode('a.b', random, fixedDraw(0, 0.5)), 'n1');
  });
});

describe('NodeTurns', () => {
  test('turns over the slots of each registration on its own, from the first', () => {
    const turns = new NodeTurns();
    assert.deepEqual(
      [0, 1, 2, 3].map(() => turns.turn('exact a', 3)),
      [0, 1, 2, 0],
    );
    assert.equal(turns.turn('exact b', 2), 0);
    assert.equal(turns.turn('exact a', 3), 1);
  });

  test('a registration whose callees became fewer goes on within them', () => {
    const turns = new NodeTurns();
    turns.turn('exact a', 5);
    turns.turn('exact a', 5);
    turns.turn('exact a', 5);
    assert.equal(turns.turn('exact a', 2), 1);
    assert.equal(turns.turn('exact a', 2), 0);
  });
});

describe('pickNode properties', () => {
  const nodes = fc.constantFrom('n1', 'n2', 'n3', 'n4');
  const component = fc.constantFrom('a', 'b', 'c');
  const uri = fc.array(component, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.'));
  const pattern = fc.oneof(
    uri.map((u) => [u, 'exact'] as const),
    fc
      .array(component, { maxLength: 3 })
      .map((p) => [p.length > 0 ? `${p.join('.')}.` : '', 'prefix'] as const),
    fc
      .array(fc.option(component, { nil: '' }), { minLength: 1, maxLength: 3 })
      .map((p) => [p.join('.'), 'wildcard'] as const),
  );
  /** Every node's answer: at most one registration per (node, uri, match). */
  const answers = fc.uniqueArray(
    fc.record({
      node: nodes,
      at: pattern,
      invoke: fc.constantFrom<InvokePolicy>('roundrobin', 'random', 'first', 'last'),
      callees: fc.integer({ min: 1, max: 4 }),
      oldest: fc.integer({ min: 0, max: 1000 }),
    }),
    { selector: (r) => `${r.node} ${r.at[1]} ${r.at[0]}`, maxLength: 8 },
  );

  test('the node picked holds a winning registration, whatever the order of the answers; none when none matches', () => {
    fc.assert(
      fc.property(answers, uri, fc.nat(), fc.double({ min: 0, max: 0.999 }), (rs, target, turn, random) => {
        // One invocation policy per (uri, match), as the cluster keeps them.
        const policy = new Map(rs.map((r) => [`${r.at[1]} ${r.at[0]}`, r.invoke]));
        const found = rs.map((r) =>
          reg(r.node, r.at[0], r.at[1], policy.get(`${r.at[1]} ${r.at[0]}`)!, {
            callees: r.callees,
            oldest: r.oldest,
            newest: r.oldest + 1,
          }),
        );
        const matching = found.filter((r) => matches(r, target));
        const node = pickNode(target, found, fixedDraw(turn, random));
        assert.equal(pickNode(target, [...found].reverse(), fixedDraw(turn, random)), node);
        if (matching.length === 0) return assert.equal(node, undefined);
        const winners = matching.filter((r) => matching.every((other) => !beats(other, r, target)));
        assert.ok(
          winners.some((r) => r.node === node),
          `${node} holds none of the winners ${JSON.stringify(winners)}`,
        );
      }),
    );
  });

  test('roundrobin: as many consecutive calls as the cluster has callees reach each node once per callee', () => {
    const counts = fc.dictionary(nodes, fc.integer({ min: 1, max: 5 }), { minKeys: 2 });
    fc.assert(
      fc.property(counts, fc.nat({ max: 20 }), (perNode, skipped) => {
        const found = Object.entries(perNode).map(([node, callees]) =>
          reg(node, 'a.b', 'exact', 'roundrobin', { callees }),
        );
        const turns = new NodeTurns();
        for (let i = 0; i < skipped; i++) pickNode('a.b', found, turns);
        const total = found.reduce((sum, r) => sum + r.callees, 0);
        const reached = new Map<string, number>();
        for (let i = 0; i < total; i++) {
          const node = pickNode('a.b', [...found].reverse(), turns)!;
          reached.set(node, (reached.get(node) ?? 0) + 1);
        }
        assert.deepEqual(reached, new Map(Object.entries(perNode)));
      }),
    );
  });
});

/** Whether registration `r` matches `uri` (checked by a plain scan). */
function matches(r: NodeRegistration, uri: string): boolean {
  if (r.match === 'exact') return r.uri === uri;
  if (r.match === 'prefix') return uri.startsWith(r.uri);
  const pattern = r.uri.split('.');
  const parts = uri.split('.');
  return pattern.length === parts.length && pattern.every((p, i) => p === '' || p === parts[i]);
}

/** Whether `a` wins over `b` for `uri` (both match it): exact, longest prefix, most specific wildcard. */
function beats(a: NodeRegistration, b: NodeRegistration, uri: string): boolean {
  const rank = { exact: 2, prefix: 1, wildcard: 0 } as const;
  if (rank[a.match] !== rank[b.match]) return rank[a.match] > rank[b.match];
  if (a.match === 'prefix') return a.uri.length > b.uri.length;
  if (a.match === 'wildcard') {
    const pa = a.uri.split('.');
    const pb = b.uri.split('.');
    for (let i = 0; i < uri.split('.').length; i++) {
      if ((pa[i] !== '') !== (pb[i] !== '')) return pa[i] !== '';
    }
  }
  return false;
}
