import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PusherError } from '../../../../src/protocol/pusher/errors.js';
import {
  MAX_SOCKET_IDS,
  newResumeToken,
  parseResume,
  parseResumeState,
  resumeStateJson,
} from '../../../../src/protocol/pusher/resume.js';
import { StreamTally } from '../../../../src/protocol/pusher/stream-tally.js';

test('resume tokens: 22 base64url characters, never the same', () => {
  const tokens = new Set(Array.from({ length: 1000 }, newResumeToken));
  assert.equal(tokens.size, 1000);
  for (const token of tokens) assert.match(token, /^[A-Za-z0-9_-]{22}$/);
});

test('herald:resume data as an object or a JSON string; the counts of every channel named', () => {
  for (const data of [{ token: 'abc', received: { a: 0 } }, '{"token":"abc","received":{"a":0}}']) {
    const parsed = parseResume(data, 10);
    assert.ok(!(parsed instanceof PusherError));
    assert.equal(parsed.token, 'abc');
    assert.deepEqual([...parsed.received], [['a', 0]]);
  }
  const proto = parseResume(JSON.parse('{"token":"t","received":{"__proto__":5}}'), 10);
  assert.ok(!(proto instanceof PusherError));
  assert.deepEqual([...proto.received], [['__proto__', 5]], '__proto__ is a channel like any other');
  const many = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`c${i}`, 1]));
  const refused = parseResume({ token: 't', received: many }, 10);
  assert.ok(refused instanceof PusherError);
  assert.match(refused.message, /more than 10 channels/);
});

test('a resume state round-trips through JSON; what is not one is refused, a bad tally left out', () => {
  const tally = new StreamTally(10);
  tally.begin({ epoch: 'e', offset: 3 });
  tally.record({ epoch: 'e', offset: 4 });
  const ids = Array.from({ length: MAX_SOCKET_IDS + 2 }, (_, i) => `${i}.${i}`);
  const json = JSON.parse(
    JSON.stringify(resumeStateJson({ socketIds: ids, channels: new Map([['__proto__', tally]]) })),
  );
  const state = parseResumeState(json, () => 10);
  assert.ok(state);
  assert.deepEqual(state.socketIds, ids.slice(-MAX_SOCKET_IDS), 'the newest socket ids');
  assert.equal(state.channels.get('__proto__')?.offsetAt(1), 4);
  for (const bad of [null, [], 'x', { socketIds: 'a', channels: {} }, { socketIds: [], channels: [] }]) {
    assert.equal(
      parseResumeState(bad, () => 10),
      undefined,
      JSON.stringify(bad),
    );
  }
  const partly = parseResumeState(
    { socketIds: ['1.1'], channels: { good: tally.toJSON(), bad: { x: 1 } } },
    () => 10,
  );
  assert.deepEqual([...(partly?.channels.keys() ?? [])], ['good']);
});
