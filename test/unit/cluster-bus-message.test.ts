import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseBusMessage } from '../../src/adapters/cluster.js';

test("a node's own id (a UUID) is accepted in every message type", () => {
  const n = randomUUID();
  for (const message of [
    { t: 'hb', n },
    { t: 'bye', n, h: 3000 },
    { t: 'msg', n, ns: 'pusher:app', ch: 'a', d: '{}' },
    { t: 'req', n, id: 'r1', op: 'pusher.channels', p: {} },
  ]) {
    assert.equal(parseBusMessage(JSON.stringify(message)).n, n);
  }
});

test('a node id that could name other broker subjects or keys is refused', () => {
  // Forged heartbeats once made up peers whose ids, with spaces and dots, became JetStream filter
  // subjects when the peer was cleaned up after: the requests timed out on the shared connection.
  for (const n of ['B7^S\\4 t?q', 'a.b', 'a b', '*', '>', 'x\u0000', 'üñï']) {
    assert.throws(() => parseBusMessage(JSON.stringify({ t: 'hb', n })), /malformed node id/, n);
  }
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 40 }), (n) => {
      let accepted: boolean;
      try {
        parseBusMessage(JSON.stringify({ t: 'hb', n }));
        accepted = true;
      } catch {
        accepted = false;
      }
      assert.equal(accepted, /^[A-Za-z0-9_-]+$/.test(n));
    }),
  );
});
