import { createHash, randomFillSync } from 'node:crypto';

/** Largest WAMP ID (WAMP spec, Basic Profile, IDs). */
export const MAX_ID = 2 ** 53;

/** A request, session, subscription or registration ID as the wire may carry it: an integer in [1, 2^53]. */
export function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_ID;
}

const POOL_IDS = 512;
const pool = new BigUint64Array(POOL_IDS);
let poolNext = POOL_IDS;

/**
 * A random ID, uniform over [1, 2^53 − 1], for sessions and publications (global scope) and for subscriptions
 * and registrations. 2^53 itself is left out: MessagePack encoders write it as a float, which autobahn-python
 * rejects (docs/wamp.md, Differences from Crossbar.io). Random bytes are drawn in batches.
 */
export function randomId(): number {
  for (;;) {
    if (poolNext === POOL_IDS) {
      randomFillSync(pool);
      poolNext = 0;
    }
    const id = Number(pool[poolNext++]! & 0x1f_ffff_ffff_ffffn);
    if (id !== 0) return id;
  }
}

/** A random ID not yet in `taken`. */
export function freshId(taken: { has(id: number): boolean }): number {
  let id = randomId();
  while (taken.has(id)) id = randomId();
  return id;
}

/**
 * The ID of a subscription or registration (`kind`) of (uri, match): the same on every node of a
 * cluster, so that the meta API can speak of one subscription or registration across nodes. Derived
 * from a hash of the three; a random ID in the rare case that one is already taken here.
 */
export function uriId(kind: string, uri: string, match: string, taken: { has(id: number): boolean }): number {
  const digest = createHash('sha256').update(`${kind}\0${match}\0${uri}`).digest();
  const id = Number(digest.readBigUInt64BE(0) & 0x1f_ffff_ffff_ffffn);
  return id === 0 || taken.has(id) ? freshId(taken) : id;
}

/** Session-scope request IDs the router sends (INVOCATION): 1, 2, 3 …, back to 1 after 2^53. */
export class IdSequence {
  #next = 1;

  next(): number {
    const id = this.#next;
    this.#next = id >= MAX_ID ? 1 : id + 1;
    return id;
  }
}
