import assert from 'node:assert/strict';
import { type AddressInfo, connect, createServer } from 'node:net';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { Herald } from '../../src/server.js';
import { ListenError } from '../../src/transport/listener.js';

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A port nothing listens on: bound once, then released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

for (const [name, listener, settings] of [
  [
    'an admin',
    (port: number) => ({ api: { host: '127.0.0.1', port } }),
    'api.host, api.port; --api-host, --api-port',
  ],
  [
    'a RawSocket',
    (port: number) => ({ wamp: { rawsocket: { host: '127.0.0.1', port } } }),
    'wamp.rawsocket.host, wamp.rawsocket.port',
  ],
] as const) {
  test(`${name} address in use: the start fails with a ListenError naming its settings and closes the public port`, async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const busy = (taken.address() as AddressInfo).port;
    const publicPort = await freePort();
    const herald = new Herald(
      parseConfig({ host: '127.0.0.1', port: publicPort, ...listener(busy), logLevel: 'silent' }),
    );
    try {
      await assert.rejects(herald.start(), (err: Error) => {
        assert.ok(err instanceof ListenError);
        assert.ok(err.message.startsWith(`cannot listen on 127.0.0.1:${busy} (${settings})`), err.message);
        return true;
      });
      assert.equal(await listening(publicPort), false, 'the public port it bound first is closed again');
      await herald.stop();
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
}
