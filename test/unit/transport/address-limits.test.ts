import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ClientAddresses, isAddressOrRange } from '../../../src/core/client-address.js';
import { AddressLimits } from '../../../src/transport/address-limits.js';

describe('ClientAddresses', () => {
  const behindProxy = new ClientAddresses(['10.0.0.0/8', '::1']);

  test("the socket's address when no proxy is trusted, whatever the header says", () => {
    const direct = new ClientAddresses([]);
    assert.equal(direct.of('203.0.113.7', '198.51.100.1'), '203.0.113.7');
    assert.equal(direct.of('::ffff:203.0.113.7', undefined), '203.0.113.7');
  });

  test('from an untrusted peer the header is ignored', () => {
    assert.equal(behindProxy.of('203.0.113.7', '198.51.100.1'), '203.0.113.7');
  });

  test('from a trusted proxy, the right-most address that is not a trusted proxy', () => {
    assert.equal(behindProxy.of('10.1.2.3', '198.51.100.1'), '198.51.100.1');
    assert.equal(behindProxy.of('::ffff:10.1.2.3', '198.51.100.1, 10.9.9.9'), '198.51.100.1');
    // What the client wrote itself (left of the address the proxy saw) is not believed.
    assert.equal(behindProxy.of('10.1.2.3', '1.1.1.1, 198.51.100.1'), '198.51.100.1');
    assert.equal(behindProxy.of('::1', ['1.1.1.1', '198.51.100.1']), '198.51.100.1');
  });

  test('garbage in the header stops the walk at the last readable address', () => {
    assert.equal(behindProxy.of('10.1.2.3', 'nonsense'), '10.1.2.3');
    assert.equal(behindProxy.of('10.1.2.3', '198.51.100.1, garbage, 10.0.0.2'), '10.0.0.2');
    assert.equal(behindProxy.of('10.1.2.3', ''), '10.1.2.3');
  });

  test('never throws, and answers an address it was given', () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.string(), { nil: undefined }), (peer, header) => {
        const answer = behindProxy.of(peer, header);
        assert.ok(answer === peer || answer === peer.replace('::ffff:', '') || header?.includes(answer));
      }),
    );
  });

  test('isAddressOrRange accepts addresses and CIDR ranges only', () => {
    for (const ok of ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '0.0.0.0/0'])
      assert.ok(isAddressOrRange(ok), ok);
    for (const bad of ['', 'localhost', '10.0.0.0/33', '::/129', '10.0.0.0/8/1', '10.0.0.0/x', '1.2.3.4/']) {
      assert.ok(!isAddressOrRange(bad), bad);
    }
  });
});

describe('AddressLimits', () => {
  test('a burst, then the rate: refused attempts do not count', () => {
    let now = 0;
    const limits = new AddressLimits({
      maxConnectionsPerAddress: null,
      ratePerSecond: 10,
      burst: 5,
      now: () => now,
    });
    const first = Array.from({ length: 8 }, () => limits.admit('a'));
    assert.deepEqual(first, [undefined, undefined, undefined, undefined, undefined, 'rate', 'rate', 'rate']);
    assert.equal(limits.admit('b'), undefined, 'another address has its own bucket');
    now += 100; // one token back at 10 per second
    assert.equal(limits.admit('a'), undefined);
    assert.equal(limits.admit('a'), 'rate');
    now += 60_000; // refilled, and forgotten at the next sweep
    assert.deepEqual(
      Array.from({ length: 6 }, () => limits.admit('a')),
      [undefined, undefined, undefined, undefined, undefined, 'rate'],
    );
  });

  test('open connections per address, freed on close', () => {
    const limits = new AddressLimits({ maxConnectionsPerAddress: 2, ratePerSecond: null, burst: 1 });
    for (let i = 0; i < 2; i++) {
      assert.equal(limits.admit('a'), undefined);
      limits.opened('a');
    }
    assert.equal(limits.admit('a'), 'connections');
    assert.equal(limits.admit('b'), undefined);
    limits.closed('a');
    assert.equal(limits.openCount('a'), 1);
    assert.equal(limits.admit('a'), undefined);
  });

  test('over any sequence, admitted attempts never exceed burst plus what the rate refilled', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 300 }), (gaps) => {
        let now = 0;
        const rate = 20;
        const burst = 7;
        const limits = new AddressLimits({
          maxConnectionsPerAddress: null,
          ratePerSecond: rate,
          burst,
          now: () => now,
        });
        let admitted = 0;
        for (const gap of gaps) {
          now += gap;
          if (limits.admit('x') === undefined) admitted++;
          assert.ok(admitted <= burst + (now * rate) / 1000 + 1e-9, `${admitted} admitted by ${now} ms`);
        }
      }),
    );
  });
});
