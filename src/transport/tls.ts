import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { HeraldError } from '../core/errors.js';

export const ERR_TLS_UNUSABLE = 'ERR_TLS_UNUSABLE';

/** The TLS settings as the configuration holds them (`tls` in the schema): files, and the key's passphrase. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string | undefined;
  readonly passphrase?: string | undefined;
}

/**
 * Certificate files Herald cannot serve with: every problem found, one per line, each naming the setting
 * and its flag, and what to do about it.
 */
export class TlsError extends HeraldError {
  constructor(readonly problems: readonly string[]) {
    super(ERR_TLS_UNUSABLE, `cannot serve TLS with these files:\n  ${problems.join('\n  ')}`);
  }
}

/** How logs and tests tell one certificate from another. */
export interface CertificateSummary {
  readonly subject: string;
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly validTo: string;
}

/** Checked files, ready for `tls.Server#setSecureContext`. */
export interface TlsMaterial {
  readonly options: SecureContextOptions;
  readonly certificate: CertificateSummary;
}

/** A certificate, key or chain file is far smaller: a larger file is the wrong file (or `/dev/zero`). */
const MAX_FILE_BYTES = 1024 * 1024;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g;

/** The setting and flag each file comes from, as the messages name them. */
const NAMES = {
  cert: 'tls.cert (--ssl-cert)',
  key: 'tls.key (--ssl-key)',
  ca: 'tls.ca (--ssl-ca)',
} as const;

/**
 * Reads and checks the files of `files`: each must be readable, the certificate valid at `now` (ms since
 * the epoch), the key its own (decrypted with the passphrase when encrypted), the chain file made of
 * certificates. Rejects with a `TlsError` listing every problem; file contents are untrusted, and no
 * content, however malformed, rejects with anything else.
 */
export async function readTls(files: TlsFiles, now: number): Promise<TlsMaterial> {
  const read = await Promise.all([
    readSmallFile(files.cert, NAMES.cert),
    readSmallFile(files.key, NAMES.key),
    files.ca === undefined ? undefined : readSmallFile(files.ca, NAMES.ca),
  ]);
  // The problems in the order of the settings, whichever file was read first.
  const problems = read.flatMap((file) => (typeof file === 'string' ? [file] : []));
  const [cert, key, ca] = read.map((file) => (typeof file === 'string' ? undefined : file));
  const chain = cert && certificates(cert, files.cert, NAMES.cert, problems);
  const leaf = chain?.[0];
  if (leaf) checkValidity(leaf, now, problems);
  const privateKey = key && privateKeyOf(key, files, problems);
  if (leaf && privateKey && !leaf.checkPrivateKey(privateKey)) {
    problems.push(
      `${NAMES.key}: ${files.key} is not the key of the certificate in ${files.cert} (the two files do ` +
        'not belong together)',
    );
  }
  if (ca && files.ca !== undefined) certificates(ca, files.ca, NAMES.ca, problems);
  if (problems.length > 0 || !cert || !key || !leaf) throw new TlsError(problems);

  const options: SecureContextOptions = {
    cert,
    key,
    ...(ca ? { ca } : {}),
    ...(files.passphrase !== undefined ? { passphrase: files.passphrase } : {}),
  };
  try {
    // What the checks above do not cover (a key too weak for OpenSSL's security level, say) is refused here.
    createSecureContext(options);
  } catch (err) {
    throw new TlsError([`OpenSSL refuses the certificate and key: ${(err as Error).message}`]);
  }
  return {
    options,
    certificate: {
      subject: leaf.subject,
      serialNumber: leaf.serialNumber,
      fingerprint256: leaf.fingerprint256,
      validTo: leaf.validTo,
    },
  };
}

/** A regular file of at most `MAX_FILE_BYTES`, whole; otherwise the problem. */
async function readSmallFile(path: string, name: string): Promise<Buffer | string> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    // Non-blocking, so that a named pipe is refused below instead of waiting for a writer.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const stat = await handle.stat();
    if (!stat.isFile()) return `${name}: ${path} is not a regular file`;
    if (stat.size > MAX_FILE_BYTES) {
      return `${name}: ${path} has ${stat.size} bytes, more than a PEM file of this kind ever has`;
    }
    return await handle.readFile();
  } catch (err) {
    return `${name}: cannot read ${path} (${readFailure(err as NodeJS.ErrnoException)})`;
  } finally {
    await handle?.close();
  }
}

function readFailure(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied: the user Herald runs as must be able to read it';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return err.code ?? err.message;
  }
}

/** The PEM certificates of a file, in order; undefined (and a problem) when there is none or one is broken. */
function certificates(
  pem: Buffer,
  path: string,
  name: string,
  problems: string[],
): X509Certificate[] | undefined {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE);
  if (!blocks) {
    problems.push(`${name}: ${path} holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block)`);
    return undefined;
  }
  const parsed: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      parsed.push(new X509Certificate(block));
    } catch (err) {
      problems.push(`${name}: certificate ${i + 1} of ${path} cannot be parsed (${(err as Error).message})`);
      return undefined;
    }
  }
  return parsed;
}

/** Clients refuse a certificate outside its validity period: so does the start. */
function checkValidity(certificate: X509Certificate, now: number, problems: string[]): void {
  const from = Date.parse(certificate.validFrom);
  const to = Date.parse(certificate.validTo);
  const subject = certificate.subject.replaceAll('\n', ', ');
  if (to < now) {
    problems.push(
      `${NAMES.cert}: the certificate of "${subject}" expired on ${new Date(to).toISOString()}: renew it`,
    );
  } else if (from > now) {
    problems.push(
      `${NAMES.cert}: the certificate of "${subject}" is not valid before ${new Date(from).toISOString()} ` +
        "(or this machine's clock is wrong)",
    );
  }
}

function privateKeyOf(pem: Buffer, files: TlsFiles, problems: string[]): KeyObject | undefined {
  const encrypted = () =>
    problems.push(
      `${NAMES.key}: ${files.key} is encrypted: give its passphrase (tls.passphrase, --ssl-passphrase, ` +
        'HERALD_TLS_PASSPHRASE)',
    );
  // PKCS#8 ("BEGIN ENCRYPTED PRIVATE KEY") and the older "Proc-Type: 4,ENCRYPTED" header.
  if (
    files.passphrase === undefined &&
    /-----BEGIN ENCRYPTED|Proc-Type: *4, *ENCRYPTED/.test(pem.toString('latin1'))
  ) {
    encrypted();
    return undefined;
  }
  try {
    return createPrivateKey({
      key: pem,
      format: 'pem',
      ...(files.passphrase !== undefined ? { passphrase: files.passphrase } : {}),
    });
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    if (code === 'ERR_MISSING_PASSPHRASE') {
      encrypted();
    } else if (files.passphrase !== undefined && /bad decrypt/i.test(message)) {
      problems.push(
        `${NAMES.key}: ${files.key} cannot be decrypted with tls.passphrase: is it the right one?`,
      );
    } else {
      problems.push(`${NAMES.key}: ${files.key} holds no PEM private key that can be read (${message})`);
    }
    return undefined;
  }
}
