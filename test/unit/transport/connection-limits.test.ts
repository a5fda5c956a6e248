import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { LimitRefusals } from '../../../src/core/limit-refusals.js';
import { ConnectionLimits, type ConnectionLimitsOptions } from '../../../src/transport/connection-limits.js';

function request(remoteAddress: string, forwardedFor?: string): IncomingMessage {
  return {
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  } as unknown as IncomingMessage;
}

function limits(options: Partial<ConnectionLimitsOptions> = {}, over = false) {
  const refusals = new LimitRefusals();
  const memory = { over };
  const l = new ConnectionLimits({
    maxConnections: null,
    maxConnectionsPerAddress: null,
    connectionRatePerAddress: null,
    trustedProxies: [],
    memory,
    refusals,
    now: () => 0,
    ...options,
  });
  return { limits: l, refusals, memory };
}

test('the limits are checked in order: server full, memory, connections per address, rate', () => {
  const {
    limits: l,
    refusals,
    memory,
  } = limits(
    { maxConnections: 2, maxConnectionsPerAddress: 1, connectionRatePerAddress: { perSecond: 1, burst: 1 } },
    true,
  );
  const req = request('192.0.2.1');
  const limitOf = (open: number) => {
    const r = l.admit(req, open);
    return typeof r === 'string' ? r : r.limit;
  };
  assert.equal(limitOf(2), 'max_connections');
  assert.equal(limitOf(1), 'memory');
  memory.over = false;
  assert.equal(limitOf(1), '192.0.2.1', 'admitted: the address to count');
  l.opened('192.0.2.1');
  assert.equal(limitOf(1), 'connections_per_address');
  l.closed('192.0.2.1');
  assert.equal(limitOf(1), 'connection_rate_per_address', 'the one token of the burst is spent');
  assert.deepEqual([...refusals.entries()].sort(), [
    ['connection_rate_per_address', 1],
    ['connections_per_address', 1],
    ['max_connections', 1],
    ['memory', 1],
  ]);
});

test('refusals carry their status, JSON message and Retry-After', () => {
  const { limits: l } = limits({
    maxConnections: 1,
    connectionRatePerAddress: { perSecond: 1, burst: 1 },
  });
  const full = l.admit(request('192.0.2.1'), 1);
  assert.ok(typeof full !== 'string');
  assert.equal(full.status, 503);
  assert.equal(full.headers['Retry-After'], '5');
  assert.equal(l.admit(request('192.0.2.1'), 0), '192.0.2.1');
  const rate = l.admit(request('192.0.2.1'), 0);
  assert.ok(typeof rate !== 'string');
  assert.equal(rate.status, 429);
  assert.equal(rate.headers['Retry-After'], '1');
});

test('with the limits per address off the client address is not worked out', () => {
  const { limits: l } = limits({ maxConnections: 10 });
  const req = {
    get socket(): never {
      throw new Error('the socket was read');
    },
    headers: {},
  } as unknown as IncomingMessage;
  assert.equal(l.admit(req, 0), '');
  l.opened('');
  l.closed('');
});

test('an IPv4 address seen on a dual-stack socket is the same address', () => {
  const { limits: l } = limits({ maxConnectionsPerAddress: 1 });
  const address = l.admit(request('::ffff:192.0.2.1'), 0);
  assert.equal(address, '192.0.2.1');
  l.opened(address as string);
  const again = l.admit(request('192.0.2.1'), 0);
  assert.ok(typeof again !== 'string' && again.limit === 'connections_per_address');
});

test('behind a trusted proxy the forwarded client is counted, not the proxy', () => {
  const { limits: l } = limits({ maxConnectionsPerAddress: 1, trustedProxies: ['10.0.0.0/8'] });
  const a = l.admit(request('10.1.2.3', '192.0.2.1'), 0);
  assert.equal(a, '192.0.2.1');
  l.opened(a as string);
  assert.equal(l.admit(request('10.1.2.3', '192.0.2.2'), 0), '192.0.2.2');
  const forged = l.admit(request('10.1.2.3', '198.51.100.1, 192.0.2.1'), 0);
  assert.ok(typeof forged !== 'string' && forged.limit === 'connections_per_address');
  assert.equal(
    l.admit(request('192.0.2.9', '192.0.2.50'), 0),
    '192.0.2.9',
    'an untrusted peer: header ignored',
  );
});
