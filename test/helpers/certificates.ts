import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);
const OPENSSL = '/usr/bin/openssl';
const DAY_MS = 86_400_000;

export interface KeyPair {
  cert: string;
  key: string;
}

/** A private CA and server certificates it signed for `localhost` and 127.0.0.1. */
export interface TestCertificates {
  /** The CA's certificate, PEM, and the file that holds it. */
  ca: string;
  caFile: string;
  /** Valid for a year. */
  valid: KeyPair;
  /** Expires in 5 days. */
  soon: KeyPair;
  /** Expired yesterday, after a month of validity. */
  expired: KeyPair;
  remove(): Promise<void>;
}

/** `YYYYMMDDHHMMSSZ`, the date format of `openssl ca -startdate/-enddate`. */
const asn1Time = (ms: number) => `${new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Generates the CA and certificates with /usr/bin/openssl into a temporary folder. */
export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-certs-'));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run(OPENSSL, args, { cwd: dir });
  await openssl(
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '30',
    '-subj',
    '/CN=Herald test CA',
  );
  await openssl(
    'req',
    '-new',
    ...EC_KEY,
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=localhost',
  );
  await writeFile(at('ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  const signed = async (name: string, days: number) => {
    await openssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-set_serial',
      String(Date.now() + days),
      '-days',
      String(days),
      '-extfile',
      'ext',
      '-out',
      name,
    );
  };
  await signed('valid.pem', 365);
  await signed('soon.pem', 5);
  // `openssl x509` cannot date a certificate in the past; `openssl ca` can, with a database of its own.
  await mkdir(at('db'));
  await writeFile(at('db/index.txt'), '');
  await writeFile(at('db/serial'), '01\n');
  await writeFile(
    at('ca.cnf'),
    '[ca]\ndefault_ca = test\n[test]\ndatabase = db/index.txt\nnew_certs_dir = db\nserial = db/serial\n' +
      'default_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n',
  );
  const now = Date.now();
  await openssl(
    'ca',
    '-batch',
    '-config',
    'ca.cnf',
    '-cert',
    'ca.pem',
    '-keyfile',
    'ca.key',
    '-in',
    'server.csr',
    '-startdate',
    asn1Time(now - 31 * DAY_MS),
    '-enddate',
    asn1Time(now - DAY_MS),
    '-extfile',
    'ext',
    '-notext',
    '-out',
    'expired.pem',
  );
  const read = (name: string) => readFile(at(name), 'utf8');
  const key = await read('server.key');
  return {
    ca: await read('ca.pem'),
    caFile: at('ca.pem'),
    valid: { cert: await read('valid.pem'), key },
    soon: { cert: await read('soon.pem'), key },
    expired: { cert: await read('expired.pem'), key },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * A TLS listener on `host` (127.0.0.1 unless said) port 0 that forwards each connection to `targetPort`, as a TLS
 * proxy in front of a server does. Resolves with its port; `close()` ends every connection.
 */
export async function tlsProxy(
  pair: KeyPair,
  targetPort: number,
  host = '127.0.0.1',
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer(pair, (client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  // A client that gives up on the certificate ends its handshake; that is what some tests do.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TLS proxy port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
