import assert from 'node:assert/strict';
import { get } from 'node:https';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:tls';
import type { Browser } from 'playwright-core';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { clientFixture, LineProcess } from '../helpers/line-process.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { handshake, type Issued, opensslSkip, TestPki, tlsSdk } from '../helpers/tls.js';

/**
 * TLS on the public port (docs/operations.md, TLS): `wss://` and `https://` on one port, against a CA
 * and certificates made at test time. pusher-js and autobahn-js take no `ca` option, so they run in
 * processes of their own that trust the CA through NODE_EXTRA_CA_CERTS; the `pusher` SDK gets it
 * through an HTTPS agent, Chromium through the certificate's public key hash.
 */

const GUARD_MS = 15_000;

/** `GET url` over HTTPS trusting `ca`: the status and the body. */
function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).once('error', reject);
  });
}

describe('TLS on the public port', { skip: opensslSkip }, () => {
  let pki: TestPki;
  let certificate: Issued;
  let server: TestHerald;
  const children: LineProcess[] = [];
  const ca = () => pki.root.certPem;

  before(async () => {
    pki = await TestPki.create();
    certificate = await pki.issue('server');
    server = await startHerald({ tls: { cert: certificate.cert, key: certificate.key } });
  });
  after(async () => {
    await Promise.all(children.map((child) => child.stop()));
    await server?.stop();
    await pki?.remove();
  });

  test('https:// and wss:// on the one port, with the configured certificate; plain HTTP is refused', async () => {
    assert.equal(server.httpUrl, `https://127.0.0.1:${server.port}`);
    const presented = await handshake(server.port, ca());
    assert.equal(presented.serialNumber, certificate.serialNumber);
    assert.equal(presented.fingerprint256, certificate.fingerprint256);

    assert.deepEqual(await httpsGet(`${server.httpUrl}/ready`, ca()), {
      status: 200,
      body: '{"status":"ready"}',
    });
    const { client } = await within(
      RawClient.connect(server.wsUrl(), { ca: ca() }),
      GUARD_MS,
      'a wss:// client',
    );
    client.close();
    await assert.rejects(fetch(`http://127.0.0.1:${server.port}/ready`));
  });

  test('pusher-js with forceTLS receives what the pusher SDK publishes with useTLS', async () => {
    const subscriber = new LineProcess(
      [clientFixture('pusher-js'), APP.key, '127.0.0.1', String(server.port), 'tls-news'],
      { NODE_EXTRA_CA_CERTS: pki.root.cert },
    );
    children.push(subscriber);
    await within(subscriber.next('subscribed'), GUARD_MS, 'pusher-js to subscribe over wss://');

    const sdk = tlsSdk(server.port, ca());
    const response = await sdk.trigger('tls-news', 'headline', { title: 'encrypted both ways' });
    assert.equal(response.status, 200);
    const event = await within(subscriber.next('event'), GUARD_MS, 'the event in pusher-js');
    assert.deepEqual(event, {
      kind: 'event',
      channel: 'tls-news',
      event: 'headline',
      data: { title: 'encrypted both ways' },
    });
    const info = await sdk.get({ path: '/channels/tls-news', params: { info: 'subscription_count' } });
    assert.deepEqual(await info.json(), { occupied: true, subscription_count: 1 });
    await subscriber.stop();
  });

  test('autobahn-js over wss://: a call and a publication', async () => {
    const session = new LineProcess(
      [clientFixture('autobahn'), `wss://127.0.0.1:${server.port}/ws`, 'realm1'],
      { NODE_EXTRA_CA_CERTS: pki.root.cert },
    );
    children.push(session);
    await within(session.next('joined'), GUARD_MS, 'autobahn-js to join over wss://');
    assert.deepEqual(await within(session.next('result'), GUARD_MS, 'the call'), {
      kind: 'result',
      value: 5,
    });
    assert.deepEqual(await within(session.next('event'), GUARD_MS, 'the event'), {
      kind: 'event',
      args: ['over wss'],
    });
    await within(session.next('left'), GUARD_MS, 'autobahn-js to leave');
    assert.deepEqual(await within(session.exited, GUARD_MS, 'the process to end'), { code: 0, signal: null });
  });

  test('tls.ca: the intermediate certificates go with the certificate, for clients that trust only the root', async () => {
    const intermediate = await pki.issue('intermediate', { ca: true });
    const leaf = await pki.issue('chained', { issuer: intermediate });
    const files = { cert: leaf.cert, key: leaf.key };
    const chained = await startHerald({ tls: { ...files, ca: intermediate.cert } });
    const bare = await startHerald({ tls: files });
    try {
      const socket = connect({ host: '127.0.0.1', port: chained.port, ca: ca(), servername: 'localhost' });
      await within(
        new Promise((resolve) => socket.once('secureConnect', resolve)),
        GUARD_MS,
        'the handshake',
      );
      assert.equal(socket.authorized, true);
      assert.equal(socket.getPeerCertificate(true).issuerCertificate.subject.CN, 'Herald test intermediate');
      socket.end();
      await assert.rejects(handshake(bare.port, ca()), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    } finally {
      await Promise.all([chained.stop(), bare.stop()]);
    }
  });
});

describe('TLS: pusher-js in headless Chromium', { skip: opensslSkip || chromiumSkip }, () => {
  let pki: TestPki;
  let server: TestHerald;
  let browser: Browser | undefined;

  before(async () => {
    pki = await TestPki.create();
    const certificate = await pki.issue('server');
    server = await startHerald({ tls: { cert: certificate.cert, key: certificate.key } });
    // Chromium trusts the certificate by its public key; the handshake and the encryption are real.
    const trust = `--ignore-certificate-errors-spki-list=${certificate.spkiSha256}`;
    browser = await within(launchChromium([trust]), 30_000, 'chromium to start');
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await pki?.remove();
  });

  test('forceTLS: the page subscribes over wss:// and receives what the SDK publishes over https://', async () => {
    const tab = await browser!.newPage();
    await tab.addScriptTag({ path: createRequire(import.meta.url).resolve('pusher-js/dist/web/pusher.js') });
    type PageGlobals = {
      Pusher: new (key: string, options: object) => PageClient;
      received: Promise<unknown>;
    };
    type PageClient = {
      connection: { bind(event: string, cb: (s: { current: string }) => void): void };
      subscribe(channel: string): { bind(event: string, cb: (data: unknown) => void): void };
    };
    const options = {
      wsHost: '127.0.0.1',
      wssPort: server.port,
      forceTLS: true,
      enabledTransports: ['ws'],
      cluster: '',
    };
    const subscribed = tab.evaluate(
      ({ key, options }) =>
        new Promise<void>((resolve, reject) => {
          const page = globalThis as unknown as PageGlobals;
          const pusher = new page.Pusher(key, options);
          pusher.connection.bind('state_change', ({ current }) => {
            if (current === 'failed' || current === 'unavailable') reject(new Error(`pusher-js ${current}`));
          });
          const channel = pusher.subscribe('tls-browser');
          page.received = new Promise((delivered) => channel.bind('greeting', delivered));
          channel.bind('pusher:subscription_succeeded', () => resolve());
        }),
      { key: APP.key, options },
    );
    await within(subscribed, GUARD_MS, 'the page to subscribe over wss://');
    const response = await tlsSdk(server.port, pki.root.certPem).trigger('tls-browser', 'greeting', {
      hi: 'browser',
    });
    assert.equal(response.status, 200);
    const received = tab.evaluate(() => (globalThis as unknown as PageGlobals).received);
    assert.deepEqual(await within(received, GUARD_MS, 'the event in the page'), { hi: 'browser' });
  });
});
