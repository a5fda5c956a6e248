import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { type BusMessage, BusTopics, parseBusMessage } from '../../../src/adapters/bus-message.js';

/** The refusals `parseBusMessage` makes: JSON that does not parse, or not the shape of a bus message. */
function isRefusal(err: unknown): boolean {
  return (
    err instanceof SyntaxError ||
    (err instanceof Error && /^(not a cluster message|malformed .+)$/.test(err.message))
  );
}

/** Parses, and tells a message from a refusal; anything else thrown fails the property. */
function parsed(payload: string): BusMessage | 'refused' {
  try {
    return parseBusMessage(payload);
  } catch (err) {
    assert.ok(isRefusal(err), `not a refusal: ${String(err)}`);
    return 'refused';
  }
}

const nodeId = fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/);
const requestId = fc.string({ minLength: 1, maxLength: 128 });
const json = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);

/** A channel event's stream position, or null when its stream could not record it. */
const stream = fc.option(
  fc
    .record({
      e: fc.string({ minLength: 1, maxLength: 64 }),
      o: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    })
    .map((s) => ({ ...s })),
);

/** Every message type with fields of the right types, as a node sends them. */
const validMessage: fc.Arbitrary<BusMessage> = fc.oneof(
  fc
    .record(
      { n: nodeId, ns: fc.string(), ch: fc.string(), d: fc.string(), x: fc.string(), s: stream },
      { requiredKeys: ['n', 'ns', 'ch', 'd'] },
    )
    .map((m) => ({ t: 'msg' as const, ...m })),
  fc.record({ n: nodeId }).map((m) => ({ t: 'hb' as const, ...m })),
  fc
    .record({ n: nodeId, h: fc.integer({ min: 0, max: 120_000 }) }, { requiredKeys: ['n'] })
    .map((m) => ({ t: 'bye' as const, ...m })),
  fc.record({ n: nodeId, id: requestId, op: fc.string(), p: json }).map((m) => ({ t: 'req' as const, ...m })),
  fc.record({ n: nodeId, op: fc.string(), p: json }).map((m) => ({ t: 'cast' as const, ...m })),
  fc.record({ n: nodeId, id: requestId, r: json }).map((m) => ({ t: 'res' as const, ...m })),
);

test('any bytes are a message or a refusal, never another error', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      parsed(Buffer.from(bytes).toString('utf8'));
    }),
    { numRuns: 2_000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 256 }), (text) => {
      parsed(text);
    }),
  );
});

test('any JSON, and messages with fields of any type, are a message or a refusal', () => {
  const field = fc.oneof(json, nodeId, fc.constant(undefined));
  const lookalike = fc.record(
    {
      t: fc.constantFrom('msg', 'hb', 'bye', 'req', 'cast', 'res', 'other', 1, null),
      n: field,
      ns: field,
      ch: field,
      d: field,
      x: field,
      s: field,
      h: field,
      id: field,
      op: field,
      p: field,
      r: field,
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.oneof(json, lookalike), (value) => {
      const result = parsed(JSON.stringify(value) ?? 'undefined');
      if (result === 'refused') return;
      assert.match(result.n, /^[A-Za-z0-9_-]+$/);
      assert.ok(['msg', 'hb', 'bye', 'req', 'cast', 'res'].includes(result.t));
    }),
    { numRuns: 2_000 },
  );
});

test('every valid message round-trips', () => {
  fc.assert(
    fc.property(validMessage, (message) => {
      assert.deepEqual(parseBusMessage(JSON.stringify(message)), message);
    }),
    { numRuns: 1_000 },
  );
});

test("topics: one for all nodes, one per node, one per channel that brokers' wildcards leave alone", () => {
  const topics = new BusTopics('herald');
  assert.equal(topics.all, 'herald.all');
  assert.equal(topics.node('n1'), 'herald.node.n1');
  fc.assert(
    fc.property(fc.string(), fc.string(), (namespace, channel) => {
      const topic = topics.channel(namespace, channel);
      assert.match(topic, /^herald\.ch\.[A-Za-z0-9_-]*$/);
      const encoded = topic.slice('herald.ch.'.length);
      assert.equal(Buffer.from(encoded, 'base64url').toString(), `${namespace}\0${channel}`);
    }),
  );
});

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

test("a channel message's stream position is null or an epoch and an offset from 1", () => {
  const n = randomUUID();
  const msg = (s: unknown) => JSON.stringify({ t: 'msg', n, ns: 'pusher:app', ch: 'a', d: '{}', s });
  assert.deepEqual((parseBusMessage(msg({ e: 'ep', o: 7 })) as { s: unknown }).s, { e: 'ep', o: 7 });
  assert.equal((parseBusMessage(msg(null)) as { s: unknown }).s, null);
  for (const s of [
    { e: 'ep', o: 0 },
    { e: 'ep', o: 1.5 },
    { e: 'ep', o: Number.MAX_SAFE_INTEGER + 2 },
    { e: 'ep', o: '7' },
    { e: '', o: 1 },
    { e: 'x'.repeat(65), o: 1 },
    { o: 1 },
    ['ep', 1],
    'ep:1',
    7,
  ]) {
    assert.throws(() => parseBusMessage(msg(s)), /malformed msg message/, JSON.stringify(s));
  }
});
