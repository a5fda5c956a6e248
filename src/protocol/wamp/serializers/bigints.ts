const MAX_ID_BIG = 2n ** 53n;

/**
 * For the binary serializers, whose decoders read 64-bit integers as BigInt so that values past 2^53
 * are seen as such, not rounded: BigInts within ±2^53 become numbers; larger ones stay BigInt so that
 * ID checks reject them. Walks nested containers without recursion: an element nested thousands deep
 * must not overflow the stack.
 */
export function narrowBigInts(value: unknown): unknown {
  const scalar = (v: unknown) =>
    typeof v === 'bigint' && v <= MAX_ID_BIG && v >= -MAX_ID_BIG ? Number(v) : v;
  const pending: Record<string, unknown>[] = [];
  const visit = (v: unknown) => {
    if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array))
      pending.push(v as Record<string, unknown>);
  };
  visit(value);
  for (let container = pending.pop(); container !== undefined; container = pending.pop()) {
    for (const key of Object.keys(container)) {
      container[key] = scalar(container[key]);
      visit(container[key]);
    }
  }
  return scalar(value);
}
