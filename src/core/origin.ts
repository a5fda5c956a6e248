import { domainToASCII } from 'node:url';

/**
 * Which browser pages may open a WebSocket: the `Origin` header of the upgrade request (RFC 6454
 * "The Web Origin Concept", section 7) checked against an app's or a realm's `allowedOrigins`.
 * Pure: no I/O, no logging; the protocols decide how to refuse (see README "App settings" and
 * docs/wamp.md, "Realms").
 *
 * An entry is one of:
 * - `*`: every origin, and any `Origin` header at all.
 * - `https://app.example.com`, `http://localhost:3000`: scheme, host and port compared as browsers
 *   send them (the scheme's default port when none is written; `:*` for any port).
 * - `app.example.com`, `localhost:3000`: a bare host, as Laravel Reverb's `allowed_origins` takes
 *   them: any scheme, and any port unless one is written.
 * - `*.example.com`, `https://*.example.com`: any subdomain at any depth, not `example.com` itself.
 *
 * Hosts are compared case-insensitively and in their ASCII form (an entry may be written in Unicode;
 * browsers send punycode).
 */

export interface OriginPolicy {
  /** Entries as above; an entry that does not parse matches nothing. */
  readonly allowedOrigins: readonly string[];
  /** Refuse requests without an `Origin` header (server-side clients send none). */
  readonly requireOrigin: boolean;
}

/** Why a request was refused; `allowed` when it was not. */
export type OriginVerdict = 'allowed' | 'missing' | 'malformed' | 'not-allowed';

/** A parsed `Origin` header: lowercase scheme and host, port with the scheme's default filled in. */
export interface Origin {
  readonly scheme: string;
  readonly host: string;
  /** null for a scheme without a default port and no port written. */
  readonly port: number | null;
}

interface Pattern {
  /** undefined: any scheme. */
  readonly scheme: string | undefined;
  /** For `*.example.com`, the part after `*.`. */
  readonly host: string;
  readonly subdomains: boolean;
  /** '*': any port. */
  readonly port: number | null | '*';
}

/** Longer headers are not origins (a host name is at most 253 characters). */
const MAX_ORIGIN_LENGTH = 1024;
const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443, ws: 80, wss: 443 };

const ORIGIN = /^([a-z][a-z\d+.-]*):\/\/(\[[\da-f:.]+\]|[^/?#@:[\]\s]+)(?::(\d{1,5}))?$/i;
const PATTERN = /^(?:([a-z][a-z\d+.-]*):\/\/)?(\*\.)?(\[[\da-f:.]+\]|[^/?#@:[\]\s*]+)(?::(\d{1,5}|\*))?$/i;
const HOST = /^(?:[a-z\d_-]+\.)*[a-z\d_-]+$/;

/** The serialized origin a browser sends, parsed; undefined when `header` is not one (`null` included). */
export function parseOrigin(header: string): Origin | undefined {
  if (header.length > MAX_ORIGIN_LENGTH) return undefined;
  const m = ORIGIN.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  const host = m[2]!.toLowerCase();
  if (!host.startsWith('[') && !HOST.test(host)) return undefined;
  const port = portOf(scheme, m[3]);
  if (port === undefined) return undefined;
  return { scheme, host, port };
}

/** Why `entry` is not a valid `allowedOrigins` entry; undefined when it is. */
export function originEntryProblem(entry: string): string | undefined {
  if (entry.toLowerCase() === 'null') {
    return '"null" is the origin of sandboxed and file:// pages, which no entry but "*" admits';
  }
  return entry !== '*' && compile(entry) === undefined
    ? `"${entry}" is not "*", a host ("example.com", "*.example.com") or an origin ("https://example.com:8443")`
    : undefined;
}

/**
 * The verdict on one upgrade request. `header` is the request's `origin` header as Node hands it over
 * (a repeated header arrives joined with ", " and is therefore malformed).
 */
export function checkOrigin(
  policy: OriginPolicy,
  header: string | readonly string[] | undefined,
): OriginVerdict {
  if (header === undefined) return policy.requireOrigin ? 'missing' : 'allowed';
  const patterns = compiled(policy.allowedOrigins);
  if (patterns === 'any') return 'allowed';
  const value = typeof header === 'string' ? header : header.length === 1 ? header[0]! : '';
  const origin = parseOrigin(value);
  if (!origin) return 'malformed';
  return patterns.some((p) => matches(p, origin)) ? 'allowed' : 'not-allowed';
}

function matches(p: Pattern, o: Origin): boolean {
  if (p.scheme !== undefined && p.scheme !== o.scheme) return false;
  if (p.port !== '*' && p.port !== o.port) return false;
  if (!p.subdomains) return p.host === o.host;
  return o.host.length > p.host.length + 1 && o.host.endsWith(`.${p.host}`);
}

/** Each list compiled once (apps and realms keep theirs for the life of the config). */
const cache = new WeakMap<readonly string[], Pattern[] | 'any'>();

function compiled(list: readonly string[]): Pattern[] | 'any' {
  let patterns = cache.get(list);
  if (patterns === undefined) {
    patterns = list.includes('*') ? 'any' : list.map(compile).filter((p): p is Pattern => p !== undefined);
    cache.set(list, patterns);
  }
  return patterns;
}

function compile(entry: string): Pattern | undefined {
  if (entry.length > MAX_ORIGIN_LENGTH || entry.toLowerCase() === 'null') return undefined;
  const m = PATTERN.exec(entry);
  if (!m) return undefined;
  const scheme = m[1]?.toLowerCase();
  const raw = m[3]!;
  const host = raw.startsWith('[') ? raw.toLowerCase() : domainToASCII(raw);
  if (!host || (!host.startsWith('[') && !HOST.test(host))) return undefined;
  const written = m[4];
  let port: number | null | '*';
  if (written === '*') port = '*';
  else if (scheme === undefined && written === undefined) port = '*';
  else {
    const p = portOf(scheme ?? '', written);
    if (p === undefined) return undefined;
    port = p;
  }
  return { scheme, host, subdomains: m[2] !== undefined, port };
}

/** The port an origin with `scheme` and the written `port` has; undefined when out of range. */
function portOf(scheme: string, written: string | undefined): number | null | undefined {
  if (written === undefined) return DEFAULT_PORTS[scheme] ?? null;
  const n = Number(written);
  return n <= 65535 ? n : undefined;
}
