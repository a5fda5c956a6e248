import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cookieValue,
  hashPassword,
  isPasswordHash,
  parsePasswordHash,
  SessionTokens,
  verifyPassword,
} from '../../../src/dashboard/auth.js';

test('a hash names its parameters and verifies its password only', async () => {
  const hash = await hashPassword('correct horse');
  assert.match(hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
  assert.equal(await verifyPassword('correct horse', hash), true);
  assert.equal(await verifyPassword('correct horsE', hash), false);
  assert.equal(await verifyPassword('', hash), false);
  // A fresh salt each time: the same password gives another hash, which verifies too.
  const again = await hashPassword('correct horse');
  assert.notEqual(again, hash);
  assert.equal(await verifyPassword('correct horse', again), true);
});

test('a hash made with other parameters verifies with its own', async () => {
  const hash = await hashPassword('pw', { N: 1024, r: 4, p: 2 });
  assert.deepEqual((({ N, r, p }) => ({ N, r, p }))(parsePasswordHash(hash)!), { N: 1024, r: 4, p: 2 });
  assert.equal(await verifyPassword('pw', hash), true);
});

test('malformed hashes are refused and match no password', async () => {
  const good = await hashPassword('pw');
  const [, N, r, p, salt, key] = good.split('$');
  const malformed = [
    '',
    'pw',
    'argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
    `bcrypt$${N}$${r}$${p}$${salt}$${key}`,
    `scrypt$${N}$${r}$${p}$${salt}`,
    `scrypt$${N}$${r}$${p}$${salt}$${key}$`,
    `scrypt$16383$${r}$${p}$${salt}$${key}`, // not a power of two
    `scrypt$512$${r}$${p}$${salt}$${key}`, // too cheap
    `scrypt$2097152$${r}$${p}$${salt}$${key}`, // 2 GiB
    `scrypt$${N}$0$${p}$${salt}$${key}`,
    `scrypt$${N}$${r}$99$${salt}$${key}`,
    `scrypt$${N}$${r}$${p}$c2FsdA==$${key}`, // a 4-byte salt
    `scrypt$${N}$${r}$${p}$${salt}$aGFzaA==`, // a 4-byte hash
    `scrypt$${N}$${r}$${p}$${salt}$${key!.replace('=', '')}`, // padding dropped
    `scrypt$${N}$${r}$${p}$${salt}$${key} `,
    ` ${good}`,
  ];
  for (const text of malformed) {
    assert.equal(isPasswordHash(text), false, text);
    assert.equal(await verifyPassword('pw', text), false, text);
  }
  assert.equal(isPasswordHash(good), true);
});

test('session tokens: issued, verified, refused once expired', () => {
  let now = 1_000_000;
  const tokens = new SessionTokens({ secret: 'x'.repeat(32), ttlMs: 60_000, now: () => now });
  const token = tokens.issue('ada');
  assert.deepEqual(tokens.verify(token), { name: 'ada', expiresAt: 1_060_000 });
  now = 1_059_999;
  assert.equal(tokens.verify(token)?.name, 'ada');
  now = 1_060_000;
  assert.equal(tokens.verify(token), undefined);
});

test('session tokens: tampered, forged or foreign ones are refused', () => {
  const now = () => 1_000_000;
  const tokens = new SessionTokens({ secret: 'a'.repeat(32), ttlMs: 60_000, now });
  const token = tokens.issue('ada');
  const [payload, mac] = token.split('.') as [string, string];
  // The payload rewritten for another user, or a later expiry, under the old signature.
  const other = Buffer.from(JSON.stringify({ n: 'root', e: 1_060_000 })).toString('base64url');
  const later = Buffer.from(JSON.stringify({ n: 'ada', e: 9e15 })).toString('base64url');
  const flipped = mac.slice(0, -1) + (mac.endsWith('A') ? 'B' : 'A');
  const foreign = new SessionTokens({ secret: 'b'.repeat(32), ttlMs: 60_000, now }).issue('ada');
  for (const bad of [
    `${other}.${mac}`,
    `${later}.${mac}`,
    `${payload}.${flipped}`,
    `${payload}.`,
    `${payload}`,
    `.${mac}`,
    `${payload}.${mac}.${mac}`,
    `${payload}.${mac}=`,
    foreign,
    '',
    'null',
  ]) {
    assert.equal(tokens.verify(bad), undefined, bad);
  }
  // The same secret on another node accepts it.
  assert.equal(new SessionTokens({ secret: 'a'.repeat(32), ttlMs: 1, now }).verify(token)?.name, 'ada');
});

test('cookieValue finds one cookie among others', () => {
  assert.equal(cookieValue('a=1; herald_dashboard=tok.en; b=2', 'herald_dashboard'), 'tok.en');
  assert.equal(cookieValue(['a=1', 'herald_dashboard=x'], 'herald_dashboard'), 'x');
  assert.equal(cookieValue('xherald_dashboard=1', 'herald_dashboard'), undefined);
  assert.equal(cookieValue('herald_dashboard', 'herald_dashboard'), undefined);
  assert.equal(cookieValue(undefined, 'herald_dashboard'), undefined);
});
