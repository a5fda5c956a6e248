import { createHmac, createPublicKey, pbkdf2Sync, randomBytes, verify } from 'node:crypto';
import type { z } from 'zod';
import { wampAuthSchema } from '../../config/schema.js';
import { constantTimeEqual } from '../../core/constant-time.js';
import { ProtocolViolation, WampUri } from './errors.js';
import type { Dict } from './messages.js';
import { isDict } from './payload.js';

/** The `wamp.auth` settings as written: what is left out gets its default from the schema. */
export type AuthConfig = z.input<typeof wampAuthSchema>;

/** Who a session is once authenticated (WELCOME.Details; WAMP spec, Advanced Profile, Authentication). */
export interface Principal {
  readonly authid: string;
  readonly authrole: string;
  readonly authmethod: string;
  readonly authprovider: string;
  readonly authextra?: Dict;
}

/** A CHALLENGE sent and awaiting its AUTHENTICATE. */
export interface PendingAuth {
  /** The principal when `signature` is right, else undefined. */
  verify(signature: string): Principal | undefined;
}

export type AuthOutcome =
  | { readonly kind: 'welcome'; readonly principal: Principal }
  | {
      readonly kind: 'challenge';
      readonly method: string;
      readonly extra: Dict;
      readonly pending: PendingAuth;
    }
  | { readonly kind: 'abort'; readonly reason: string; readonly message: string };

/** SPKI DER header of an Ed25519 public key; the raw 32 key bytes follow it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const AUTHPROVIDER = 'static';

/** The WAMP-CRA signature: base64 HMAC-SHA256 of the challenge string, keyed with the secret's bytes. */
export function craSignature(key: string, challenge: string): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(challenge, 'utf8').digest('base64');
}

/**
 * Salted WAMP-CRA key: the base64 text of PBKDF2-HMAC-SHA256(password, salt), used as ASCII (WAMP spec,
 * Advanced Profile, Challenge Response Authentication, Password Salting).
 */
export function deriveCraKey(password: string, salt: string, iterations: number, keylen: number): string {
  return pbkdf2Sync(password, salt, iterations, keylen, 'sha256').toString('base64');
}

/**
 * Cryptosign check (WAMP spec, Advanced Profile, Cryptosign-based Authentication): hex(signature64 ‖
 * challenge32) over our challenge, by `pubkey`.
 */
export function verifyCryptosign(pubkeyHex: string, challengeHex: string, signatureHex: string): boolean {
  if (!/^[0-9a-fA-F]{192}$/.test(signatureHex)) return false;
  if (signatureHex.slice(128).toLowerCase() !== challengeHex.toLowerCase()) return false;
  const key = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(pubkeyHex, 'hex')]),
    format: 'der',
    type: 'spki',
  });
  return verify(null, Buffer.from(challengeHex, 'hex'), key, Buffer.from(signatureHex.slice(0, 128), 'hex'));
}

/** `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX` from an unambiguous alphabet, as Crossbar names anonymous sessions. */
function anonymousAuthid(): string {
  const alphabet = '34679ACEFGHJKLMNPQRTUVWXY';
  const bytes = randomBytes(24);
  const chars = [...bytes].map((b) => alphabet[b % alphabet.length]);
  return Array.from({ length: 6 }, (_, i) => chars.slice(i * 4, i * 4 + 4).join('')).join('-');
}

/**
 * Picks the first of the client's `authmethods` that is configured and usable (WAMP spec, Advanced Profile,
 * Authentication) and runs it: anonymous, ticket, WAMP-CRA (plain and salted) and cryptosign. Unknown
 * principals still get a challenge, so a client cannot tell them from a wrong secret.
 */
export class Authenticator {
  private readonly config: z.output<typeof wampAuthSchema>;

  constructor(config: AuthConfig) {
    // Read through the schema, the one home of the defaults; validated settings come out the same.
    this.config = wampAuthSchema.parse(config);
  }

  /** Runs on HELLO; `sessionId` is the ID WELCOME will carry (WAMP-CRA signs it). */
  hello(details: Dict, sessionId: number, now: Date): AuthOutcome {
    const methods = details.authmethods ?? [];
    if (!Array.isArray(methods) || !methods.every((m) => typeof m === 'string')) {
      throw new ProtocolViolation('HELLO.Details.authmethods must be a list of strings');
    }
    const authid = typeof details.authid === 'string' ? details.authid : undefined;
    const authextra = isDict(details.authextra) ? details.authextra : {};
    for (const method of methods.length === 0 ? ['anonymous'] : (methods as string[])) {
      const outcome = this.#try(method, authid, authextra, sessionId, now);
      if (outcome) return outcome;
    }
    return {
      kind: 'abort',
      reason: WampUri.NO_MATCHING_AUTH_METHOD,
      message: `none of the authmethods ${JSON.stringify(methods)} is enabled`,
    };
  }

  #try(method: string, authid: string | undefined, extra: Dict, session: number, now: Date) {
    const c = this.config;
    if (method === 'anonymous' && c.anonymous) {
      const principal = { authid: anonymousAuthid(), authrole: c.anonymous.role, authmethod: method };
      return { kind: 'welcome' as const, principal: { ...principal, authprovider: AUTHPROVIDER } };
    }
    if (method === 'ticket' && c.ticket && authid !== undefined) return this.#ticket(authid);
    if (method === 'wampcra' && c.wampcra && authid !== undefined) return this.#wampcra(authid, session, now);
    if (method === 'cryptosign' && c.cryptosign) return this.#cryptosign(authid, extra);
    return undefined;
  }

  #ticket(authid: string): AuthOutcome {
    const principal = this.config.ticket!.principals[authid];
    return {
      kind: 'challenge',
      method: 'ticket',
      extra: {},
      pending: {
        verify: (ticket) =>
          constantTimeEqual(ticket, principal?.ticket ?? randomBytes(16).toString('hex')) && principal
            ? { authid, authrole: principal.role, authmethod: 'ticket', authprovider: AUTHPROVIDER }
            : undefined,
      },
    };
  }

  #wampcra(authid: string, session: number, now: Date): AuthOutcome {
    const user = this.config.wampcra!.users[authid];
    const authrole = user?.role ?? '';
    const challenge = JSON.stringify({
      authid,
      authrole,
      authmethod: 'wampcra',
      authprovider: AUTHPROVIDER,
      nonce: randomBytes(16).toString('base64'),
      timestamp: now.toISOString(),
      session,
    });
    const extra: Dict = { challenge };
    let key = randomBytes(32).toString('base64');
    if (user?.salt !== undefined) {
      const { iterations, keylen } = user;
      Object.assign(extra, { salt: user.salt, iterations, keylen });
      // Crossbar's spelling (`type: "static"`) stores the derived key itself (docs/wamp.md, Authentication).
      const derived = this.config.wampcra!.type === 'static';
      key = derived ? user.secret : deriveCraKey(user.secret, user.salt, iterations, keylen);
    } else if (user) {
      key = user.secret;
    }
    const expected = craSignature(key, challenge);
    return {
      kind: 'challenge',
      method: 'wampcra',
      extra,
      pending: {
        verify: (signature) =>
          constantTimeEqual(signature, expected) && user
            ? { authid, authrole, authmethod: 'wampcra', authprovider: AUTHPROVIDER }
            : undefined,
      },
    };
  }

  #cryptosign(authid: string | undefined, extra: Dict): AuthOutcome | undefined {
    const pubkey = typeof extra.pubkey === 'string' ? extra.pubkey.toLowerCase() : '';
    if (!/^[0-9a-f]{64}$/.test(pubkey)) return undefined;
    if (extra.channel_binding !== undefined && extra.channel_binding !== null) {
      return {
        kind: 'abort',
        reason: WampUri.AUTHENTICATION_FAILED,
        message: 'cryptosign channel binding is not supported',
      };
    }
    const match = Object.entries(this.config.cryptosign!.principals).find(
      ([id, p]) =>
        (authid === undefined || authid === id) && p.authorized_keys.some((k) => k.toLowerCase() === pubkey),
    );
    const challenge = randomBytes(32).toString('hex');
    return {
      kind: 'challenge',
      method: 'cryptosign',
      extra: { challenge, channel_binding: null },
      pending: {
        verify: (signature) =>
          match && verifyCryptosign(pubkey, challenge, signature)
            ? {
                authid: match[0],
                authrole: match[1].role,
                authmethod: 'cryptosign',
                authprovider: AUTHPROVIDER,
                authextra: { pubkey },
              }
            : undefined,
      },
    };
  }
}
