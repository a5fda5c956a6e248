import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { createMemoryParts } from '../../src/adapters/memory.js';
import type { ClusterParts } from '../../src/adapters/parts.js';
import { parseConfig } from '../../src/config/load.js';
import { Herald } from '../../src/server.js';
import { APP, startHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';

/**
 * `HeraldDeps.cluster`: a whole set of cluster parts given to Herald is the one it serves with, runs the
 * preflight of, and closes (src/adapters/parts.ts says who opens and closes what).
 */

/** A memory set that counts the calls of its lifecycle. */
function countedSet(preflight: () => Promise<void> = async () => {}): {
  parts: ClusterParts;
  calls: { preflight: number; close: number };
} {
  const inner = createMemoryParts(randomUUID(), Date.now);
  const calls = { preflight: 0, close: 0 };
  const parts: ClusterParts = {
    ...inner,
    preflight: () => {
      calls.preflight++;
      return preflight();
    },
    close: () => {
      calls.close++;
      return inner.close();
    },
  };
  return { parts, calls };
}

test('an injected set serves the node: its presence store holds the member; preflight at start, close at stop', async () => {
  const { parts, calls } = countedSet();
  const server = await startHerald({}, { cluster: parts });
  try {
    assert.equal(calls.preflight, 1);
    const { client, socketId } = await RawClient.connect(server.wsUrl());
    const signed = server.sdk().authorizeChannel(socketId, 'presence-room', { user_id: 'u1' });
    const reply = await within(client.subscribe('presence-room', { ...signed }), 5000, 'the subscription');
    assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
    assert.equal(await parts.presence.count(`pusher:${APP.id}`, 'presence-room'), 1);
    client.close();
  } finally {
    await server.stop();
  }
  assert.equal(calls.close, 1);
});

test('a failed preflight stops the start and closes the set', async () => {
  const { parts, calls } = countedSet(async () => {
    throw new Error('broker says no');
  });
  const herald = new Herald(parseConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent' }), {
    cluster: parts,
  });
  await assert.rejects(herald.start(), /broker says no/);
  assert.equal(calls.close, 1);
  await herald.stop();
  assert.equal(calls.close, 2, 'stop closes it again, which the set answers at once');
});
