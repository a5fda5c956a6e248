import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { SubscriptionCountNotifier } from '../../../../src/protocol/pusher/subscription-count.js';

/**
 * The notifier with a fake clock: `now()` and the timers it schedules (setImmediate for the end of
 * the turn, setTimeout for busy channels) move only when the test advances them.
 */
function harness() {
  let clock = 1_000_000;
  const counts = new Map<string, number>();
  const sent: [string, string, number][] = [];
  const notifier = new SubscriptionCountNotifier(
    (namespace, channel) => counts.get(`${namespace}/${channel}`) ?? 0,
    (namespace, channel, count) => sent.push([namespace, channel, count]),
    () => clock,
  );
  return {
    notifier,
    sent,
    /** Sets a channel's count and reports the change, as a subscribe or unsubscribe does. */
    change(channel: string, count: number, namespace = 'pusher:app') {
      counts.set(`${namespace}/${channel}`, count);
      notifier.changed(namespace, channel);
    },
    /** Ends the current event-loop turn. */
    endTurn() {
      mock.timers.tick(0);
    },
    advance(ms: number) {
      clock += ms;
      mock.timers.tick(ms);
    },
  };
}

describe('SubscriptionCountNotifier', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] }));
  afterEach(() => mock.timers.reset());

  test('many changes to a channel within one turn produce one message with the final count', () => {
    const h = harness();
    for (let n = 1; n <= 50; n++) h.change('room', n);
    assert.deepEqual(h.sent, [], 'nothing is sent before the turn ends');
    h.endTurn();
    assert.deepEqual(h.sent, [['pusher:app', 'room', 50]]);
    h.endTurn();
    assert.equal(h.sent.length, 1, 'no repeat without a new change');
    h.notifier.close();
  });

  test('each changed channel and namespace gets its own message', () => {
    const h = harness();
    h.change('a', 2);
    h.change('b', 1);
    h.change('a', 3, 'pusher:other');
    h.endTurn();
    assert.deepEqual(h.sent, [
      ['pusher:app', 'a', 2],
      ['pusher:app', 'b', 1],
      ['pusher:other', 'a', 3],
    ]);
    h.notifier.close();
  });

  test('a channel empty on this node is still reported, for subscribers on other nodes', () => {
    const h = harness();
    h.change('gone', 1);
    h.change('gone', 0);
    h.endTurn();
    assert.deepEqual(h.sent, [['pusher:app', 'gone', 0]]);
    h.endTurn();
    assert.equal(h.sent.length, 1, 'reported once');
    h.notifier.close();
  });

  test('changes in later turns are each sent while the channel has at most 100 subscribers', () => {
    const h = harness();
    for (const n of [1, 2, 100, 99]) {
      h.change('small', n);
      h.endTurn();
    }
    assert.deepEqual(
      h.sent.map(([, , n]) => n),
      [1, 2, 100, 99],
    );
    h.notifier.close();
  });

  test('over 100 subscribers: at most one message every 5 s, carrying the latest count', () => {
    const h = harness();
    h.change('busy', 101);
    h.endTurn();
    assert.deepEqual(h.sent, [['pusher:app', 'busy', 101]], 'the first message goes out at once');

    h.advance(1_000);
    h.change('busy', 102);
    h.endTurn();
    h.advance(2_000);
    h.change('busy', 103);
    h.endTurn();
    h.advance(1_999);
    assert.equal(h.sent.length, 1, 'held back until 5 s after the last message');
    h.advance(1);
    assert.deepEqual(h.sent[1], ['pusher:app', 'busy', 103]);

    h.advance(10_000);
    assert.equal(h.sent.length, 2, 'nothing more without a change');
    h.change('busy', 104);
    h.endTurn();
    assert.deepEqual(h.sent[2], ['pusher:app', 'busy', 104], '5 s have passed: sent at once');
    h.notifier.close();
  });

  test('a busy channel dropping to 100 or fewer is told at once again', () => {
    const h = harness();
    h.change('busy', 150);
    h.endTurn();
    h.change('busy', 100);
    h.endTurn();
    assert.deepEqual(
      h.sent.map(([, , n]) => n),
      [150, 100],
    );
    h.notifier.close();
  });

  test('close() drops pending changes and the busy-channel timer', () => {
    const h = harness();
    h.change('busy', 200);
    h.endTurn();
    h.change('busy', 201);
    h.endTurn();
    h.change('quiet', 1);
    h.notifier.close();
    h.advance(60_000);
    assert.deepEqual(h.sent, [['pusher:app', 'busy', 200]]);
    h.notifier.close();
  });
});
