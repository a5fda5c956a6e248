import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readTls, TlsError } from '../../../src/transport/tls.js';
import { type Issued, opensslSkip, TestPki } from '../../helpers/tls.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('readTls', { skip: opensslSkip }, () => {
  let pki: TestPki;
  let server: Issued;
  let other: Issued;
  let encrypted: Issued;
  let intermediate: Issued;
  let chained: Issued;
  before(async () => {
    pki = await TestPki.create();
    server = await pki.issue('server');
    other = await pki.issue('other');
    encrypted = await pki.issue('encrypted', { passphrase: 'correct horse' });
    intermediate = await pki.issue('intermediate', { ca: true });
    chained = await pki.issue('chained', { issuer: intermediate });
  });
  after(() => pki?.remove());

  /** The problems `readTls` lists, one string each. */
  async function problems(files: Parameters<typeof readTls>[0], now = Date.now()): Promise<string[]> {
    const err = await readTls(files, now).then(
      () => assert.fail('readTls accepted the files'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TlsError, String(err));
    assert.equal(err.code, 'ERR_TLS_UNUSABLE');
    assert.equal(err.message, `cannot serve TLS with these files:\n  ${err.problems.join('\n  ')}`);
    return [...err.problems];
  }

  test('a certificate and its key: the options for the server, and what identifies the certificate', async () => {
    const material = await readTls({ cert: server.cert, key: server.key }, Date.now());
    assert.equal(material.options.cert?.toString(), server.certPem);
    assert.equal(material.options.key?.toString(), server.keyPem);
    assert.equal(material.options.ca, undefined);
    assert.equal(material.certificate.serialNumber, server.serialNumber);
    assert.equal(material.certificate.fingerprint256, server.fingerprint256);
    assert.equal(material.certificate.subject, 'CN=localhost');
  });

  test('an encrypted key: read with its passphrase; without it or with a wrong one, the error says so', async () => {
    const files = { cert: encrypted.cert, key: encrypted.key };
    const material = await readTls({ ...files, passphrase: 'correct horse' }, Date.now());
    assert.equal(material.options.passphrase, 'correct horse');
    assert.deepEqual(await problems(files), [
      `tls.key (--ssl-key): ${encrypted.key} is encrypted: give its passphrase (tls.passphrase, ` +
        '--ssl-passphrase, HERALD_TLS_PASSPHRASE)',
    ]);
    assert.deepEqual(await problems({ ...files, passphrase: 'battery staple' }), [
      `tls.key (--ssl-key): ${encrypted.key} cannot be decrypted with tls.passphrase: is it the right one?`,
    ]);
  });

  test('a chain file of intermediates is checked and passed on', async () => {
    const material = await readTls(
      { cert: chained.cert, key: chained.key, ca: intermediate.cert },
      Date.now(),
    );
    assert.equal(material.options.ca?.toString(), intermediate.certPem);
    const garbage = await pki.write('not-a-chain.pem', 'intermediates go here\n');
    assert.deepEqual(await problems({ cert: chained.cert, key: chained.key, ca: garbage }), [
      `tls.ca (--ssl-ca): ${garbage} holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block)`,
    ]);
  });

  test('missing files and a directory: every problem at once, each naming its setting and flag', async () => {
    assert.deepEqual(
      await problems({ cert: `${pki.dir}/none.pem`, key: pki.dir, ca: `${pki.dir}/no-ca.pem` }),
      [
        `tls.cert (--ssl-cert): cannot read ${pki.dir}/none.pem (no such file)`,
        `tls.key (--ssl-key): ${pki.dir} is not a regular file`,
        `tls.ca (--ssl-ca): cannot read ${pki.dir}/no-ca.pem (no such file)`,
      ],
    );
  });

  test('a key that is not the certificate’s', async () => {
    assert.deepEqual(await problems({ cert: server.cert, key: other.key }), [
      `tls.key (--ssl-key): ${other.key} is not the key of the certificate in ${server.cert} (the two files ` +
        'do not belong together)',
    ]);
  });

  test('an expired certificate, and one not valid yet', async () => {
    const [expired] = await problems({ cert: server.cert, key: server.key }, Date.now() + 3 * DAY_MS);
    assert.match(
      expired!,
      /^tls\.cert \(--ssl-cert\): the certificate of "CN=localhost" expired on \d{4}-.*: renew it$/,
    );
    const [early] = await problems({ cert: server.cert, key: server.key }, Date.now() - DAY_MS);
    assert.match(early!, /^tls\.cert \(--ssl-cert\): the certificate of "CN=localhost" is not valid before /);
    const lapsed = await pki.issue('lapsed', { days: -1 });
    const [real] = await problems({ cert: lapsed.cert, key: lapsed.key });
    assert.match(real!, /expired on/);
  });

  test('garbage where the PEM files should be', async () => {
    const text = await pki.write('text.pem', 'hello\n');
    const broken = await pki.write(
      'broken.pem',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    );
    const found = await problems({ cert: text, key: text });
    assert.equal(found.length, 2);
    assert.equal(
      found[0],
      `tls.cert (--ssl-cert): ${text} holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block)`,
    );
    assert.match(
      found[1]!,
      new RegExp(`^tls\\.key \\(--ssl-key\\): ${text} holds no PEM private key that can be read`),
    );
    const [unparsable] = await problems({ cert: broken, key: server.key });
    assert.match(
      unparsable!,
      new RegExp(`^tls\\.cert \\(--ssl-cert\\): certificate 1 of ${broken} cannot be parsed`),
    );
    // The certificate where the key should be, and the other way round.
    assert.equal((await problems({ cert: server.key, key: server.cert })).length, 2);
  });
});
