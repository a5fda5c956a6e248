import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Router } from '../../../src/http/router.js';
import {
  closeListener,
  createListener,
  ERR_LISTEN,
  ListenError,
  listen,
} from '../../../src/transport/listener.js';

const logger = pino({ level: 'silent' });
const SETTINGS = 'api.host, api.port; --api-host, --api-port';

describe('listen', () => {
  test('binds the address; closeListener closes it, and resolves for a server that never listened', async () => {
    const server = createListener(new Router(logger, 1024), logger, false);
    await listen(server, 0, '127.0.0.1', SETTINGS);
    const { port } = server.address() as AddressInfo;
    assert.equal((await fetch(`http://127.0.0.1:${port}/anything`)).status, 404);
    await closeListener(server);
    assert.equal(server.listening, false);
    await closeListener(createListener(new Router(logger, 1024), logger, true));
  });

  test('an address in use and one not of this machine: a ListenError naming the address and its settings', async () => {
    const first = createListener(new Router(logger, 1024), logger, false);
    await listen(first, 0, '127.0.0.1', SETTINGS);
    const { port } = first.address() as AddressInfo;
    const second = createListener(new Router(logger, 1024), logger, false);
    try {
      await assert.rejects(listen(second, port, '127.0.0.1', SETTINGS), (err: unknown) => {
        assert.ok(err instanceof ListenError);
        assert.equal(err.code, ERR_LISTEN);
        assert.equal(
          err.message,
          `cannot listen on 127.0.0.1:${port} (${SETTINGS}): the address is in use: another process (or the ` +
            'other listener) listens there',
        );
        return true;
      });
      await assert.rejects(listen(second, 0, '192.0.2.1', SETTINGS), {
        name: 'ListenError',
        message: `cannot listen on 192.0.2.1:0 (${SETTINGS}): 192.0.2.1 is not an address of this machine`,
      });
      // An IPv6 address in brackets; the reason depends on whether this machine has IPv6 at all.
      await assert.rejects(listen(second, 0, '2001:db8::1', SETTINGS), (err: Error) =>
        err.message.startsWith(`cannot listen on [2001:db8::1]:0 (${SETTINGS}): `),
      );
    } finally {
      await closeListener(first);
    }
  });
});
