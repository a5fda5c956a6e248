import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { parseConfig } from '../../src/config/load.js';
import { Herald } from '../../src/server.js';
import { readTls, TlsError } from '../../src/transport/tls.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { handshake, type Issued, opensslSkip, TestPki } from '../helpers/tls.js';
import { fuzz } from './harness.js';

/**
 * The certificate, key and chain files (`tls`): generated garbage, PEM armour around random bytes,
 * and real PEM files cut, mangled or swapped. At start each either works or is refused with a
 * `TlsError` naming the problem, never another error; on a reload (SIGHUP) it never stops the server,
 * which keeps its certificate and its connections.
 */

const GUARD_MS = 5000;

const LABELS = ['CERTIFICATE', 'PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'RSA PRIVATE KEY'];

/** A PEM block of `label` around `body` (base64 of random bytes, or any text). */
const armoured = fc
  .record({
    label: fc.constantFrom(...LABELS),
    body: fc.oneof(
      fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes).toString('base64')),
      fc.string({ maxLength: 300 }),
    ),
    end: fc.boolean(),
  })
  .map(
    ({ label, body, end }) => `-----BEGIN ${label}-----\n${body}\n${end ? `-----END ${label}-----\n` : ''}`,
  );

/** A real PEM file mangled: cut short, one character changed, or junk put in. */
function mangled(pem: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.nat(pem.length).map((at) => pem.slice(0, at)),
    fc
      .record({ at: fc.nat(pem.length - 1), to: fc.string({ minLength: 1, maxLength: 1 }) })
      .map(({ at, to }) => pem.slice(0, at) + to + pem.slice(at + 1)),
    fc
      .record({ at: fc.nat(pem.length), junk: fc.string({ maxLength: 40 }) })
      .map(({ at, junk }) => pem.slice(0, at) + junk + pem.slice(at)),
  );
}

/** What a file named by `tls` may hold: `real` now and then, mostly not. */
function fileContent(real: readonly string[]): fc.Arbitrary<string | Uint8Array> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 2048 }) },
    { weight: 2, arbitrary: fc.string({ maxLength: 500 }) },
    { weight: 3, arbitrary: armoured },
    { weight: 4, arbitrary: fc.constantFrom(...real).chain(mangled) },
    { weight: 1, arbitrary: fc.constantFrom(...real) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...real), armoured).map(([a, b]) => a + b) },
  );
}

describe('fuzz: TLS certificate files', { skip: opensslSkip }, () => {
  let pki: TestPki;
  let server: Issued;
  let real: string[];
  const files = () => ({ cert: `${pki.dir}/f.pem`, key: `${pki.dir}/f.key`, ca: `${pki.dir}/f-ca.pem` });

  before(async () => {
    pki = await TestPki.create();
    server = await pki.issue('server');
    const encrypted = await pki.issue('encrypted', { passphrase: 'pass' });
    real = [server.certPem, server.keyPem, encrypted.keyPem, pki.root.certPem];
  });
  after(() => pki?.remove());

  /** Writes one case's files; the `tls` settings that name them. */
  async function writeCase(
    cert: string | Uint8Array,
    key: string | Uint8Array,
    ca: string | Uint8Array | null,
  ) {
    const paths = files();
    await Promise.all([
      writeFile(paths.cert, cert),
      writeFile(paths.key, key),
      ca && writeFile(paths.ca, ca),
    ]);
    return { cert: paths.cert, key: paths.key, ...(ca === null ? {} : { ca: paths.ca }) };
  }

  /** A case's cert, key and (maybe) chain file. */
  const contents = () =>
    [fileContent(real), fileContent(real), fc.option(fileContent(real), { freq: 2 })] as const;
  const passphrase = () =>
    fc.option(fc.oneof(fc.constant('pass'), fc.string({ maxLength: 20 })), { freq: 2 });

  test('readTls: the files work, or a TlsError says why; nothing else', async () => {
    await fuzz('tls files', 300, [...contents(), passphrase()], async (cert, key, ca, passphrase) => {
      const tls = { ...(await writeCase(cert, key, ca)), ...(passphrase === null ? {} : { passphrase }) };
      try {
        const material = await readTls(tls, Date.now());
        assert.ok(Buffer.isBuffer(material.options.cert));
      } catch (err) {
        assert.ok(err instanceof TlsError, `not a TlsError: ${(err as Error)?.stack ?? String(err)}`);
        assert.ok(err.problems.length > 0);
        for (const problem of err.problems) assert.equal(typeof problem, 'string');
      }
    });
  });

  test('start: a Herald given such files either starts or refuses with a TlsError', async () => {
    await fuzz('tls files at start', 40, [...contents(), passphrase()], async (cert, key, ca, passphrase) => {
      const tls = { ...(await writeCase(cert, key, ca)), ...(passphrase === null ? {} : { passphrase }) };
      const herald = new Herald(parseConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', tls }));
      try {
        await herald.start();
      } catch (err) {
        assert.ok(err instanceof TlsError, `not a TlsError: ${(err as Error)?.stack ?? String(err)}`);
      } finally {
        await herald.stop();
      }
    });
  });

  describe('reloads of a running server', () => {
    let running: TestHerald;
    let client: RawClient;
    before(async () => {
      const tls = await writeCase(server.certPem, server.keyPem, null);
      running = await startHerald({ tls: { cert: tls.cert, key: tls.key } });
      ({ client } = await RawClient.connect(running.wsUrl(), { ca: pki.root.certPem }));
    });
    after(async () => {
      client?.close();
      await running?.stop();
    });

    test('a reload with such files keeps serving: the old certificate stays unless the new files work', async () => {
      await fuzz('tls files on reload', 60, [...contents()], async (cert, key, ca) => {
        // The server's `tls` names the cert and key files only; `ca` and a passphrase stay unset.
        const tls = await writeCase(cert, key, ca);
        const reloaded = await within(running.herald.reloadTls(), GUARD_MS, 'the reload');
        // Refused: the certificate in service stays. Taken (a mangled copy can still be a certificate
        // of the same key): new handshakes get the one in the files.
        const expected = reloaded
          ? (await readTls({ cert: tls.cert, key: tls.key }, Date.now())).certificate.fingerprint256
          : server.fingerprint256;
        const presented = await handshake(running.port, pki.root.certPem).catch((err: Error) => err);
        if (presented instanceof Error)
          assert.ok(reloaded, `no handshake after a refused reload: ${presented.message}`);
        else assert.equal(presented.fingerprint256, expected);
        client.send({ event: 'pusher:ping', data: {} });
        await within(client.next('pusher:pong'), GUARD_MS, 'the connection made before to answer');
        // Back to the real files, so that each case starts from a server with a certificate that works.
        await writeCase(server.certPem, server.keyPem, null);
        assert.equal(await running.herald.reloadTls(), true);
      });
    });
  });
});
