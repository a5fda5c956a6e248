import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppTraffic, closeCodeLabel, Traffic } from '../../../src/core/traffic.js';

test('close codes: the defined ones and the Pusher bands by number, any other as other', () => {
  for (const code of [1000, 1001, 1005, 1006, 1015, 4000, 4009, 4100, 4200, 4299]) {
    assert.equal(closeCodeLabel(code), String(code));
  }
  for (const code of [0, 999, 1016, 2999, 3000, 3999, 4300, 4999, 65_535])
    assert.equal(closeCodeLabel(code), 'other');
});

test('every code a close frame can carry maps to one of 317 labels', () => {
  const labels = new Set<string>();
  for (let code = 0; code < 65_536; code++) labels.add(closeCodeLabel(code));
  assert.equal(labels.size, 16 + 300 + 1);
});

test('a close takes the connection off the gauge and counts its code', () => {
  const traffic = new Traffic();
  traffic.connections = 3;
  traffic.close(4009);
  traffic.close(4009);
  traffic.close(3001);
  assert.equal(traffic.connections, 0);
  assert.deepEqual(
    [...traffic.closed],
    [
      ['4009', 2],
      ['other', 1],
    ],
  );
});

test('one Traffic per protocol and app, made on first use and kept', () => {
  const apps = new AppTraffic();
  assert.deepEqual([...apps.entries()], []);
  const pusher = apps.of('pusher', 'shared-name');
  assert.equal(apps.of('pusher', 'shared-name'), pusher);
  const wamp = apps.of('wamp', 'shared-name');
  assert.notEqual(wamp, pusher, 'an app and a realm of the same name are counted apart');
  pusher.messagesOut += 10;
  assert.deepEqual(
    [...apps.entries()].map(({ protocol, app, traffic }) => [protocol, app, traffic.messagesOut]),
    [
      ['pusher', 'shared-name', 10],
      ['wamp', 'shared-name', 0],
    ],
  );
});
