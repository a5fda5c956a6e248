import { createHmac, randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * The dashboard's credentials: password hashes (scrypt, RFC 7914, from node:crypto: Node 20 has no
 * argon2) and signed session tokens. Pure functions and one small class; no HTTP here.
 */

/** The cost of new hashes: scrypt's N (CPU and memory), r (block size) and p (parallelism). */
export const SCRYPT_DEFAULTS = { N: 16_384, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/**
 * The bounds a hash's own parameters must keep to: a configuration cannot make one sign-in take
 * seconds or gigabytes (N up to 2^20 with r 8 is 1 GiB, the most Node is allowed below).
 */
const LIMITS = { logNMin: 10, logNMax: 20, rMax: 32, pMax: 16, saltMin: 8, keyMin: 16, keyMax: 128 };

/** A hash's parts, as `scrypt$N$r$p$<salt base64>$<key base64>` writes them. */
export interface PasswordHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

const HASH_FORMAT =
  /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/**
 * The parts of `text` when it is a hash `hashPassword` makes, with parameters within the bounds
 * above; undefined for anything else.
 */
export function parsePasswordHash(text: string): PasswordHash | undefined {
  const m = HASH_FORMAT.exec(text);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const logN = Math.log2(N);
  if (!Number.isInteger(logN) || logN < LIMITS.logNMin || logN > LIMITS.logNMax) return undefined;
  if (r < 1 || r > LIMITS.rMax || p < 1 || p > LIMITS.pMax) return undefined;
  const salt = Buffer.from(m[4]!, 'base64');
  const key = Buffer.from(m[5]!, 'base64');
  // Base64 that does not round-trip (bits left over, wrong padding) is a hash written by hand.
  if (salt.toString('base64') !== m[4] || key.toString('base64') !== m[5]) return undefined;
  if (salt.length < LIMITS.saltMin || key.length < LIMITS.keyMin || key.length > LIMITS.keyMax)
    return undefined;
  return { N, r, p, salt, key };
}

export const isPasswordHash = (text: string): boolean => parsePasswordHash(text) !== undefined;

function derive(password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; Node refuses more than `maxmem` (32 MiB by default).
  const maxmem = 128 * options.N! * options.r! * (options.p ?? 1) + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, { ...options, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** A new hash of `password`, with a random salt: `scrypt$16384$8$1$<salt>$<key>`. */
export async function hashPassword(
  password: string,
  cost: { N: number; r: number; p: number } = SCRYPT_DEFAULTS,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, cost);
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/**
 * Whether `password` is the one `hash` was made from, compared in constant time. A malformed hash
 * (the schema refuses those at load) matches nothing.
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parsed = parsePasswordHash(hash);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.key.length, parsed);
  return timingSafeEqual(key, parsed.key);
}

/** A signed-in user, as a valid session token carries them. */
export interface Session {
  name: string;
  /** Milliseconds since the epoch after which the token is refused. */
  expiresAt: number;
}

const TOKEN_FORMAT = /^([A-Za-z0-9_-]{1,2048})\.([A-Za-z0-9_-]{43})$/;

/**
 * Session tokens: `<payload>.<mac>`, the payload the base64url JSON `{"n": name, "e": expiresAt}` and
 * the mac its HMAC-SHA256 under the session secret (base64url). Stateless: any node with the same
 * secret accepts another's tokens, and a token stays valid until it expires.
 */
export class SessionTokens {
  readonly #secret: Buffer;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: { secret: string | Buffer; ttlMs: number; now?: () => number }) {
    this.#secret = Buffer.isBuffer(options.secret) ? options.secret : Buffer.from(options.secret, 'utf8');
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  /** A token for `name`, valid for the TTL from now. */
  issue(name: string): string {
    const payload = Buffer.from(JSON.stringify({ n: name, e: this.#now() + this.#ttlMs })).toString(
      'base64url',
    );
    return `${payload}.${this.#mac(payload).toString('base64url')}`;
  }

  /** The session `token` carries when it is one of ours, intact and unexpired; undefined otherwise. */
  verify(token: string): Session | undefined {
    const m = TOKEN_FORMAT.exec(token);
    if (!m) return undefined;
    const mac = Buffer.from(m[2]!, 'base64url');
    if (mac.length !== 32 || !timingSafeEqual(mac, this.#mac(m[1]!))) return undefined;
    let payload: unknown;
    try {
      payload = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8'));
    } catch {
      // Only our own secret signs payloads, and ours are JSON: this is a token signed by another
      // build. Refused like a forged one.
      return undefined;
    }
    const { n, e } = (payload ?? {}) as { n?: unknown; e?: unknown };
    if (typeof n !== 'string' || typeof e !== 'number' || !(this.#now() < e)) return undefined;
    return { name: n, expiresAt: e };
  }

  #mac(payload: string): Buffer {
    return createHmac('sha256', this.#secret).update(payload).digest();
  }
}

/** The value of cookie `name` in a `Cookie` header (RFC 6265 section 5.4), if there is one. */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const line of Array.isArray(header) ? header : [header]) {
    for (const pair of line.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
      return pair.slice(eq + 1).trim();
    }
  }
  return undefined;
}
