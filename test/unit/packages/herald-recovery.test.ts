import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type PusherMessage,
  type ResumedChannel,
  withRecovery,
} from '../../../packages/herald-recovery/src/herald-recovery.js';

/**
 * The recovery helper (packages/herald-recovery) on a stand-in for pusher-js's connection manager:
 * what it counts, and the `herald:resume` it sends when the connection comes back. The real
 * pusher-js, Echo and Chromium run it in test/integration/recovery*.test.ts.
 */

class FakeConnection {
  readonly handlers = new Map<string, ((payload: never) => void)[]>();
  readonly sent: { name: string; data: unknown }[] = [];

  bind(event: string, callback: (payload: never) => void) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), callback]);
  }
  unbind(event: string, callback: (payload: never) => void) {
    this.handlers.set(
      event,
      (this.handlers.get(event) ?? []).filter((c) => c !== callback),
    );
  }
  send_event(name: string, data: unknown) {
    this.sent.push({ name, data });
    return true;
  }
  emit(event: string, payload: unknown) {
    for (const handler of this.handlers.get(event) ?? []) (handler as (p: unknown) => void)(payload);
  }
  message(message: PusherMessage) {
    this.emit('message', message);
  }
  reconnect() {
    this.emit('state_change', { previous: 'connected', current: 'connecting' });
    this.emit('state_change', { previous: 'connecting', current: 'connected' });
  }
}

function fakeClient(channels: string[]) {
  const connection = new FakeConnection();
  const subscribed = new Set(channels);
  return { connection, subscribed, channel: (name: string) => (subscribed.has(name) ? { name } : undefined) };
}

const succeeded = (channel: string): PusherMessage => ({
  event: 'pusher_internal:subscription_succeeded',
  channel,
  data: {},
});

test('counts the channel events since each subscription succeeded, not the protocol’s own', () => {
  const client = fakeClient(['a', 'b']);
  const recovery = withRecovery(client);
  const c = client.connection;
  c.message({ event: 'order', channel: 'a', data: {} });
  c.message(succeeded('a'));
  for (const event of ['order', 'client-x', 'pusher:cache_miss', 'pusher_internal:member_added', 'herald:x'])
    c.message({ event, channel: 'a' });
  c.message({ event: 'order' });
  c.message(succeeded('__proto__'));
  c.message({ event: 'order', channel: '__proto__' });
  assert.deepEqual({ ...recovery.counts() }, { a: 2, ['__proto__']: 1 });
  c.message(succeeded('a'));
  assert.equal(recovery.counts().a, 0, 'a subscription succeeding again counts from 0');
});

test('on reconnect, herald:resume with the last token and the counts of the channels still subscribed', () => {
  const client = fakeClient(['a', 'b']);
  withRecovery(client);
  const c = client.connection;
  c.reconnect();
  assert.deepEqual(c.sent, [], 'no token yet: nothing to resume');
  c.message({ event: 'herald:session', data: { resume_token: 'T1', ttl: 120 } });
  c.message(succeeded('a'));
  c.message(succeeded('b'));
  c.message({ event: 'e', channel: 'a' });
  client.subscribed.delete('b');
  c.reconnect();
  assert.deepEqual(JSON.parse(JSON.stringify(c.sent)), [
    { name: 'herald:resume', data: { token: 'T1', received: { a: 1 } } },
  ]);
  // The new connection's token replaces the old; `a` keeps its count until subscribed again.
  c.message({ event: 'herald:session', data: { resume_token: 'T2', ttl: 120 } });
  c.reconnect();
  assert.deepEqual(JSON.parse(JSON.stringify(c.sent.at(-1))), {
    name: 'herald:resume',
    data: { token: 'T2', received: { a: 1 } },
  });
});

test('herald:resumed is reported per channel; detach stops everything', () => {
  const client = fakeClient(['a']);
  const reports: ResumedChannel[] = [];
  const recovery = withRecovery({ connector: { pusher: client } }, { onResumed: (r) => reports.push(r) });
  const c = client.connection;
  c.message({ event: 'herald:session', data: { resume_token: 'T', ttl: 1 } });
  c.message(succeeded('a'));
  c.message({ event: 'herald:resumed', channel: 'a', data: { recovered: true, epoch: 'E' } });
  c.message({ event: 'herald:resumed', channel: 'a', data: { recovered: false, epoch: null } });
  c.message({ event: 'herald:resumed', channel: 'a', data: 'junk' });
  assert.deepEqual(reports, [
    { channel: 'a', recovered: true, epoch: 'E' },
    { channel: 'a', recovered: false, epoch: null },
    { channel: 'a', recovered: false, epoch: null },
  ]);
  assert.equal(recovery.counts().a, 0, 'herald:resumed is not counted');
  recovery.detach();
  c.message({ event: 'e', channel: 'a' });
  c.reconnect();
  assert.equal(recovery.counts().a, 0);
  assert.deepEqual(c.sent, []);
});
