import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { Handshake, Reply } from './net.js';
import { oneLine } from './net.js';

/**
 * What `herald doctor` makes of each answer: pure functions from what the network returned to one
 * line of the verdict, with what to do when it is not good. Every input is untrusted.
 */

export type Outcome = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Short name of what was checked, the first column of the verdict. */
  name: string;
  outcome: Outcome;
  /** What was found and, unless `ok`, what to do about it. */
  detail: string;
}

export const result = (name: string, outcome: Outcome, detail: string): CheckResult => ({
  name,
  outcome,
  detail,
});

/** Clocks further apart than this get a warning; signed requests still pass up to the server's window. */
const CLOCK_WARN_SECONDS = 30;
/** A certificate that expires sooner than this gets a warning. */
const CERTIFICATE_WARN_DAYS = 14;

const DAY_MS = 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The server's certificate at `now`: expired or not yet valid, for another name, untrusted, soon due. */
export function certificateVerdict(found: Handshake, host: string, now: number): CheckResult {
  const name = 'TLS certificate';
  const cert = found.certificate;
  const validTo = typeof cert.valid_to === 'string' ? Date.parse(cert.valid_to) : Number.NaN;
  const validFrom = typeof cert.valid_from === 'string' ? Date.parse(cert.valid_from) : Number.NaN;
  if (!Number.isFinite(validTo)) return result(name, 'fail', 'the server sent no readable certificate');
  if (validTo <= now) {
    return result(
      name,
      'fail',
      `expired on ${day(validTo)}: renew it, then restart what serves it (Herald or the TLS proxy)`,
    );
  }
  if (Number.isFinite(validFrom) && validFrom > now) {
    return result(
      name,
      'fail',
      `not valid before ${day(validFrom)}: check this machine's clock and the certificate`,
    );
  }
  const nameProblem = identityProblem(host, cert);
  if (nameProblem) return result(name, 'fail', `${nameProblem}: use a certificate issued for ${host}`);
  if (found.chainError !== undefined) {
    return result(
      name,
      'fail',
      `not trusted (${oneLine(found.chainError, 80)}): serve the full chain (the certificate, then its ` +
        'intermediates), or pass --ca FILE for a private CA',
    );
  }
  const days = Math.floor((validTo - now) / DAY_MS);
  if (validTo - now < CERTIFICATE_WARN_DAYS * DAY_MS) {
    return result(name, 'warn', `expires in ${days} days, on ${day(validTo)}: renew it now`);
  }
  return result(name, 'ok', `valid until ${day(validTo)} (${days} days)`);
}

function identityProblem(host: string, cert: Partial<PeerCertificate>): string | undefined {
  try {
    const err = checkServerIdentity(host, cert as PeerCertificate);
    return err ? `issued for another name (${oneLine(err.message, 100)})` : undefined;
  } catch (err) {
    return `names nothing readable (${oneLine(String(err), 80)})`;
  }
}

/** `GET /ready`: 200 while the server takes clients. */
export function readyVerdict(reply: Reply, where: string): CheckResult {
  const name = 'server';
  if (reply.status === 200) return result(name, 'ok', `${where} is ready (GET /ready answered 200)`);
  if (reply.status === 503) {
    const status = jsonField(reply.body, 'status');
    if (status === 'stopping') {
      return result(name, 'fail', `${where} is shutting down: wait for its restart, or start it again`);
    }
    if (status === 'over-memory') {
      return result(
        name,
        'fail',
        `${where} is over its memory ceiling and refuses new clients: give it more memory or more ` +
          'nodes, or raise maxMemoryMB',
      );
    }
  }
  if (reply.status === 404) {
    return result(name, 'fail', `${where} has no /ready (HTTP 404): is --url a Herald server?`);
  }
  return result(name, 'fail', `${where} is not ready: GET /ready answered ${described(reply)}`);
}

/**
 * The server's clock against this machine's, from the HTTP `Date` header of an answer received
 * around `midpointMs`. The header has whole seconds, so a second of difference is noise.
 */
export function clockVerdict(date: unknown, midpointMs: number, maxSkewSeconds: number): CheckResult {
  const name = 'clock';
  const serverMs = typeof date === 'string' ? Date.parse(date) : Number.NaN;
  if (!Number.isFinite(serverMs)) {
    return result(name, 'warn', 'the server sent no readable Date header, so the clock skew is not known');
  }
  // The header's time was cut to the second: on average the server's clock was half a second on.
  const skew = Math.round((serverMs + 500 - midpointMs) / 1000);
  const apart = `this machine's clock and the server's are ${Math.abs(skew)} s apart`;
  const ahead = skew > 0 ? ' (the server is ahead)' : skew < 0 ? ' (the server is behind)' : '';
  if (Math.abs(skew) > maxSkewSeconds) {
    return result(
      name,
      'fail',
      `${apart}${ahead}: requests signed here are refused beyond ${maxSkewSeconds} s; synchronise both clocks (NTP)`,
    );
  }
  if (Math.abs(skew) > CLOCK_WARN_SECONDS) {
    return result(
      name,
      'warn',
      `${apart}${ahead}: signed requests are refused beyond ${maxSkewSeconds} s; synchronise both clocks (NTP)`,
    );
  }
  return result(name, 'ok', `${apart}`);
}

/** The answer of the HTTP API to the signed `POST /apps/{id}/events` (Pusher docs, HTTP API reference). */
export function apiVerdict(reply: Reply, app: { id: string; key: string }): CheckResult {
  const name = 'HTTP API';
  if (reply.status === 200)
    return result(name, 'ok', 'accepted an event signed with --app-key and --app-secret');
  const error = jsonField(reply.body, 'error') ?? '';
  // The refusals in hosted Pusher's words, which Herald keeps (Pusher docs, HTTP API reference).
  if (reply.status === 401 && error.startsWith('Invalid signature')) {
    return result(name, 'fail', 'the HTTP API refused the signature: check --app-secret');
  }
  if (reply.status === 401 && error.startsWith('Unknown auth_key')) {
    return result(
      name,
      'fail',
      `the HTTP API does not know app key "${oneLine(app.key, 60)}": check --app-key`,
    );
  }
  if (reply.status === 401 && error.startsWith('Timestamp expired')) {
    return result(
      name,
      'fail',
      "the HTTP API refused the request's timestamp: synchronise this machine's clock and the server's (NTP)",
    );
  }
  if (reply.status === 404 && error.startsWith('Unknown app id')) {
    return result(name, 'fail', `the server has no app "${oneLine(app.id, 60)}": check --app-id`);
  }
  if (reply.status === 403) return result(name, 'fail', `the app is refused: ${described(reply)}`);
  if (reply.status === 429)
    return result(name, 'fail', `over the app's request rate: ${described(reply)}; try again`);
  return result(name, 'fail', `the HTTP API answered ${described(reply)}`);
}

/**
 * A webhook receiver's answer to `HEAD <url>`: any HTTP answer shows it is reachable. Receivers take
 * POST, so 405 is as good as 200; 404 hints at a wrong path, 5xx at a receiver in trouble.
 */
export function webhookVerdict(url: string, reply: Reply): CheckResult {
  const name = 'webhook';
  const shown = oneLine(url, 100);
  if (reply.status === 404) {
    return result(name, 'warn', `${shown} answers 404 Not Found: check the path of the URL`);
  }
  if (reply.status >= 500) {
    return result(name, 'warn', `${shown} answers HTTP ${reply.status}: look at the receiver's logs`);
  }
  return result(name, 'ok', `${shown} is reachable (HEAD answered ${reply.status})`);
}

/** `HTTP 401 "message"`: the status and the JSON `error` (or the start of the body) of an answer. */
function described(reply: Reply): string {
  const said = jsonField(reply.body, 'error') ?? jsonField(reply.body, 'status') ?? reply.body;
  const text = oneLine(said, 120);
  return text ? `HTTP ${reply.status}: ${text}` : `HTTP ${reply.status}`;
}

/** A string field of a JSON object body; undefined for anything else. */
function jsonField(body: string, field: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed === null || typeof parsed !== 'object') return undefined;
    const value = (parsed as Record<string, unknown>)[field];
    return typeof value === 'string' ? value : undefined;
  } catch {
    // Not JSON: the caller shows the body as text instead.
    return undefined;
  }
}
