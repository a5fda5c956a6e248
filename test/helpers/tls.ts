import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { promisify } from 'node:util';
import PusherServer from 'pusher';
import { APP } from './herald.js';

const run = promisify(execFile);

const OPENSSL = '/usr/bin/openssl';

/** Skip reason for suites that need openssl: none when it is installed, and never under CI=true. */
export const opensslSkip: string | false =
  !existsSync(OPENSSL) && process.env.CI !== 'true'
    ? 'openssl is not installed (apt-get install openssl)'
    : false;

/** A certificate and its key, as files, with what a client sees of it. */
export interface Issued {
  /** PEM certificate file. */
  readonly cert: string;
  /** PEM private key file (encrypted when issued with a passphrase). */
  readonly key: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** As Node's `getPeerCertificate().serialNumber` and `X509Certificate#serialNumber` give it. */
  readonly serialNumber: string;
  readonly fingerprint256: string;
  /** Base64 SHA-256 of the public key (SubjectPublicKeyInfo), as Chromium's SPKI allowlist takes it. */
  readonly spkiSha256: string;
}

export interface IssueOptions {
  /** Days of validity from now; negative for a certificate that expired. @default 2 */
  days?: number;
  /** Encrypt the key with this passphrase. */
  passphrase?: string;
  /** The issuer. @default the root CA */
  issuer?: Issued;
  /** Issue a CA certificate (an intermediate) rather than one for a server. */
  ca?: boolean;
}

/**
 * A root CA and the certificates it issues, made with openssl in a temporary folder: server
 * certificates for `localhost` and `127.0.0.1`, EC P-256 keys. Each certificate gets a serial of its own.
 */
export class TestPki {
  #serial = 0x1000;

  private constructor(
    readonly dir: string,
    /** The root CA; clients trust `root.cert`. */
    readonly root: Issued,
  ) {}

  static async create(): Promise<TestPki> {
    const dir = await mkdtemp(join(tmpdir(), 'herald-pki-'));
    const root = await issue(dir, 'root', 0x0fff, { days: 2, ca: true });
    return new TestPki(dir, root);
  }

  /** A new certificate and key, written as `<name>.pem` and `<name>.key`. */
  issue(name: string, options: IssueOptions = {}): Promise<Issued> {
    return issue(this.dir, name, ++this.#serial, { issuer: this.root, ...options });
  }

  /** A file of this folder with `content`; its path. */
  async write(name: string, content: string | Uint8Array): Promise<string> {
    const file = join(this.dir, name);
    await writeFile(file, content);
    return file;
  }

  remove(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}

async function issue(dir: string, name: string, serial: number, options: IssueOptions): Promise<Issued> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  const plainKey = options.passphrase ? join(dir, `${name}.plain.key`) : key;
  const extensions = join(dir, `${name}.ext`);
  await writeFile(
    extensions,
    options.ca
      ? 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n'
      : 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  const keyArgs = [
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    plainKey,
  ];
  const subject = ['-subj', `/CN=${options.ca ? `Herald test ${name}` : 'localhost'}`];
  const days = ['-days', String(options.days ?? 2)];
  if (options.issuer) {
    const csr = join(dir, `${name}.csr`);
    await run(OPENSSL, ['req', '-new', ...keyArgs, ...subject, '-out', csr]);
    await run(OPENSSL, [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      options.issuer.cert,
      '-CAkey',
      options.issuer.key,
      '-set_serial',
      `0x${serial.toString(16)}`,
      ...days,
      '-extfile',
      extensions,
      '-out',
      cert,
    ]);
  } else {
    const ca = [
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ];
    await run(OPENSSL, ['req', '-x509', ...keyArgs, ...subject, ...days, ...ca, '-out', cert]);
  }
  if (options.passphrase) {
    const out = ['-out', key, '-aes256', '-passout', `pass:${options.passphrase}`];
    await run(OPENSSL, ['pkey', '-in', plainKey, ...out]);
  }
  const certPem = await readFile(cert, 'utf8');
  const x509 = new X509Certificate(certPem);
  const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
  return {
    cert,
    key,
    certPem,
    keyPem: await readFile(key, 'utf8'),
    serialNumber: x509.serialNumber,
    fingerprint256: x509.fingerprint256,
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
  };
}

/**
 * A TLS handshake with `127.0.0.1:port` as a client trusting `ca` (PEM) for `localhost`: the certificate
 * the server presented. A fresh connection each time, with no session to resume, so a full handshake.
 */
export function handshake(port: number, ca: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const certificate = socket.getPeerCertificate();
      socket.end();
      resolve(certificate);
    });
    socket.once('error', reject);
  });
}

/** The `pusher` SDK for the default app over HTTPS (`useTLS`) to `127.0.0.1:port`, trusting `ca` (PEM). */
export function tlsSdk(port: number, ca: string): PusherServer {
  return new PusherServer({
    appId: APP.id,
    key: APP.key,
    secret: APP.secret,
    host: '127.0.0.1',
    port: String(port),
    useTLS: true,
    agent: new Agent({ ca }),
  });
}
