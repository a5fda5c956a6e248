import { timingSafeEqual } from 'node:crypto';

/**
 * Equality of two strings in time that depends on their lengths only, never on where they differ:
 * for signatures, tickets and secrets. Lengths are not secret (a signature's length is public).
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
