import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MalformedBusMessage } from '../../../../src/adapters/bus-payload.js';
import { parseLookupAnswer, parseNodeMessage } from '../../../../src/protocol/wamp/bus-messages.js';

/** The smallest call message of the realm's dealer on node `n`. */
const callFrom = (n: unknown) =>
  JSON.stringify({ n, r: 'realm1', m: { k: 'call', c: 1, ca: 'a', cr: 'r', q: 1, u: 'p', o: {} } });

const refused = (what: RegExp) => (err: unknown) =>
  err instanceof MalformedBusMessage && what.test(err.message);

describe('parseNodeMessage: the sending node', () => {
  test('a node id (the characters of a UUID, at most 128) is taken', () => {
    for (const n of [randomUUID(), 'node-1', 'a'.repeat(128), 'A_b-9']) {
      assert.equal(parseNodeMessage(callFrom(n)).n, n);
    }
  });

  test('anything else is refused: its answers would go to a topic no broker takes', () => {
    for (const n of ['x'.repeat(129), 'x'.repeat(60_000), '', 'a.b', 'node*', 'node>', 'a b', 'é']) {
      assert.throws(
        () => parseNodeMessage(callFrom(n)),
        refused(/the node is not a node id/),
        n.slice(0, 20),
      );
    }
    assert.throws(() => parseNodeMessage(callFrom(7)), refused(/node and realm must be strings/));
  });

  test('a node id is taken exactly when it is made of the allowed characters, whatever else the string holds', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (n) => {
        const ok = /^[A-Za-z0-9_-]{1,128}$/.test(n);
        if (ok) assert.equal(parseNodeMessage(callFrom(n)).n, n);
        else assert.throws(() => parseNodeMessage(callFrom(n)), MalformedBusMessage);
      }),
    );
  });
});

describe('parseLookupAnswer', () => {
  const valid = {
    node: randomUUID(),
    uri: 'com.p',
    match: 'exact',
    invoke: 'roundrobin',
    callees: 2,
    oldest: 1,
    newest: 2.5,
  };

  test('null (no registration on that node) and a registration are taken', () => {
    assert.equal(parseLookupAnswer(null), null);
    assert.deepEqual(parseLookupAnswer(valid), valid);
    assert.deepEqual(parseLookupAnswer({ ...valid, callees: Number.MAX_SAFE_INTEGER }), {
      ...valid,
      callees: Number.MAX_SAFE_INTEGER,
    });
  });

  test('an answer that cannot be used is refused, naming what is wrong', () => {
    const cases: [unknown, RegExp][] = [
      [[valid], /null or a dict/],
      ['x', /null or a dict/],
      [{ ...valid, node: 'x'.repeat(10_000) }, /not a node id/],
      [{ ...valid, node: undefined }, /not a node id/],
      [{ ...valid, uri: 5 }, /malformed registration/],
      [{ ...valid, match: 'fuzzy' }, /malformed registration/],
      [{ ...valid, invoke: 'most' }, /malformed registration/],
      [{ ...valid, callees: 0 }, /callees/],
      [{ ...valid, callees: 1.5 }, /callees/],
      [{ ...valid, callees: 2 ** 60 }, /callees/],
      [{ ...valid, callees: '3' }, /callees/],
      [{ ...valid, oldest: null }, /times/],
      [{ ...valid, newest: 'now' }, /times/],
    ];
    for (const [answer, what] of cases) {
      assert.throws(() => parseLookupAnswer(answer), refused(what), JSON.stringify(answer).slice(0, 80));
    }
  });
});
