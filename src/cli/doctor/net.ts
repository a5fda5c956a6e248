import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { type PeerCertificate, rootCertificates, connect as tlsConnect } from 'node:tls';

/**
 * The network side of `herald doctor`: one HTTP exchange, one TLS handshake, and the words for what
 * went wrong. Everything that comes back is untrusted: bodies are cut at `MAX_BODY_BYTES`, every wait
 * has a deadline, and every failure becomes a rejected promise with a readable reason.
 */

/** More than any answer of `/ready` or the HTTP API needs; the rest of a larger body is not read. */
const MAX_BODY_BYTES = 64 * 1024;

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as text, at most `MAX_BODY_BYTES` of it. */
  body: string;
}

export interface NetOptions {
  timeoutMs: number;
  /** Certificates trusted besides Node's own roots (and `NODE_EXTRA_CA_CERTS`). */
  ca?: readonly string[] | undefined;
}

/** Node's roots plus `extra`; undefined keeps Node's default (which also reads NODE_EXTRA_CA_CERTS). */
function trusted(extra: readonly string[] | undefined): string[] | undefined {
  return extra && extra.length > 0 ? [...rootCertificates, ...extra] : undefined;
}

/** The `ca` option for `https`, `tls` and `ws`, from the extra certificates doctor was given. */
export const caOption = (options: NetOptions) => {
  const ca = trusted(options.ca);
  return ca ? { ca } : {};
};

/**
 * One request; resolves with whatever answer came (any status), rejects on a network failure or once
 * `timeoutMs` passed without a whole answer (a server that drips its headers is cut off too).
 */
export function exchange(
  url: URL,
  init: { method: string; headers?: Record<string, string>; body?: string },
  options: NetOptions,
): Promise<Reply> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: init.method, headers: init.headers, ...caOption(options) });
    const timer = setTimeout(() => req.destroy(timeoutError(options.timeoutMs)), options.timeoutMs);
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
      req.destroy();
    };
    req.on('error', (err) => settle(() => reject(err)));
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () =>
        settle(() =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk.subarray(0, Math.max(0, MAX_BODY_BYTES - size)));
        size += chunk.length;
        if (size >= MAX_BODY_BYTES) done();
      });
      res.once('end', done);
      // A body cut short still says what the status and headers said.
      res.on('error', done);
      res.once('aborted', done);
    });
    req.end(init.body);
  });
}

/** What the server's TLS handshake showed: its certificate and whether Node trusts it for `url`. */
export interface Handshake {
  certificate: Partial<PeerCertificate>;
  /** Why the chain is not trusted (`CERT_HAS_EXPIRED`, …), or undefined when it is. */
  chainError: string | undefined;
}

/** A TLS handshake with the server of `url` that accepts any certificate, to look at it. */
export function handshake(url: URL, options: NetOptions): Promise<Handshake> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port) || 443;
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host,
      port,
      ...(isIP(host) ? {} : { servername: host }),
      rejectUnauthorized: false,
      ...caOption(options),
    });
    const timer = setTimeout(() => socket.destroy(timeoutError(options.timeoutMs)), options.timeoutMs);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const certificate: Partial<PeerCertificate> = socket.getPeerCertificate();
      const error = socket.authorizationError as Error | string | null | undefined;
      socket.destroy();
      resolve({
        certificate,
        chainError: socket.authorized ? undefined : String((error as Error)?.message ?? error ?? 'untrusted'),
      });
    });
  });
}

function timeoutError(ms: number): Error {
  return Object.assign(new Error(`no answer within ${seconds(ms)}`), { code: 'ETIMEDOUT' });
}

export const seconds = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`;

/** `host:port` of a URL, with the scheme's default port. */
export function endpoint(url: URL): string {
  const port = url.port || (url.protocol === 'https:' || url.protocol === 'wss:' ? '443' : '80');
  return `${url.hostname}:${port}`;
}

/** Whether `err` is the refusal of a TLS certificate (expired, untrusted, for another name). */
export function certificateRefused(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code);
}

/**
 * A network failure in words a person can act on. `where` is the `host:port` that was tried. Codes
 * come from Node (`ECONNREFUSED`, the OpenSSL `CERT_…` codes, the HTTP parser's `HPE_…`).
 */
export function networkProblem(err: unknown, where: string): string {
  const e = err as { code?: unknown; message?: unknown; name?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (code === 'ECONNREFUSED') return `connection refused at ${where}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve the host of ${where}`;
  if (code === 'ETIMEDOUT' || e?.name === 'TimeoutError' || e?.name === 'AbortError')
    return `${where} did not answer in time`;
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/.test(message))
    return `${where} closed the connection without answering`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `no route to ${where}`;
  if (code.startsWith('HPE_')) return `${where} answered something that is not HTTP`;
  if (code === 'CERT_HAS_EXPIRED') return `the TLS certificate of ${where} has expired`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the TLS certificate of ${where} is for another name`;
  if (certificateRefused(err)) return `the TLS certificate of ${where} is not trusted (${code})`;
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO') return `no TLS handshake with ${where} (${code})`;
  return `${where}: ${oneLine(message)}`;
}

/** Untrusted text made fit for one line of the verdict: no control characters, at most `max` long. */
export function oneLine(text: string, max = 160): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
