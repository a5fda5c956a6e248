import assert from 'node:assert/strict';
import { test } from 'node:test';
import { historySchema } from '../../../../src/config/schema.js';
import { matchesPattern, streamRule } from '../../../../src/core/channel-history/rules.js';

test('a pattern without * is the name itself', () => {
  assert.equal(matchesPattern('news', 'news'), true);
  assert.equal(matchesPattern('news', 'news2'), false);
  assert.equal(matchesPattern('news', 'new'), false);
});

test('* stands for any characters, none included, wherever it is', () => {
  const cases: [string, string, boolean][] = [
    ['orders-*', 'orders-1', true],
    ['orders-*', 'orders-', true],
    ['orders-*', 'order-1', false],
    ['*', '', true],
    ['*', 'anything', true],
    ['*-room', 'presence-room', true],
    ['*-room', 'presence-rooms', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXcYb', false],
    ['a*b*c', 'ab', false],
    ['a*a', 'a', false],
    ['a*a', 'aa', true],
    ['private-*-chat-*', 'private-team-chat-7', true],
    ['private-*-chat-*', 'private-chat-7', false],
    ['x**y', 'xy', true],
    ['*.*', 'a.b', true],
    ['*.*', 'ab', false],
  ];
  for (const [pattern, name, expected] of cases) {
    assert.equal(matchesPattern(pattern, name), expected, `${pattern} ~ ${name}`);
  }
});

test('the first rule whose channels match applies, with its limits in milliseconds', () => {
  const history = historySchema.parse({
    streams: [
      { channels: ['orders-*', 'news'], maxEvents: 10, ttlSeconds: 60 },
      { channels: ['*'], ttlSeconds: 600 },
    ],
    resumeTtlSeconds: 120,
  });
  assert.equal(streamRule(null, 'orders-1'), undefined, 'an app without history');
  assert.deepEqual(streamRule(history, 'orders-1')?.limits, {
    maxEvents: 10,
    ttlMs: 60_000,
    streamTtlMs: 120_000,
  });
  assert.equal(streamRule(history, 'news')?.config, history.streams[0]);
  assert.deepEqual(streamRule(history, 'chat')?.limits, {
    maxEvents: 100,
    ttlMs: 600_000,
    streamTtlMs: 600_000,
  });
  const narrow = historySchema.parse({ streams: [{ channels: ['orders-*'] }] });
  assert.equal(streamRule(narrow, 'chat'), undefined);
  assert.equal(narrow.resumeTtlSeconds, 120, 'the default resume window');
});

test('the schema refuses empty rules, bad patterns and bounds out of range', () => {
  const bad = [
    { streams: [] },
    { streams: [{ channels: [] }] },
    { streams: [{ channels: ['orders/*'] }] },
    { streams: [{ channels: [''] }] },
    { streams: [{ channels: ['a'], maxEvents: 0 }] },
    { streams: [{ channels: ['a'], maxEvents: 100_001 }] },
    { streams: [{ channels: ['a'], ttlSeconds: 1.5 }] },
    { streams: [{ channels: ['a'] }], resumeTtlSeconds: 0 },
    { streams: [{ channels: ['a'], extra: 1 }] },
  ];
  for (const input of bad) assert.equal(historySchema.safeParse(input).success, false, JSON.stringify(input));
});
