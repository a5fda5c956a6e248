/**
 * Latency histograms and summary statistics. Histograms are log-bucketed (2% wide) microsecond counts,
 * cheap to fill on the hot path and mergeable across processes by adding the arrays.
 */

/** Counts per latency bucket; see `bucketOf`. */
export type Histogram = number[];

const GROWTH = Math.log(1.02);
/** Buckets cover 1 µs to about 100 s. */
export const BUCKETS = 940;

/** Microseconds on a wall clock that agrees across processes (sub-millisecond resolution). */
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export function newHistogram(): Histogram {
  return new Array<number>(BUCKETS).fill(0);
}

export function bucketOf(us: number): number {
  if (us < 1) return 0;
  const b = Math.floor(Math.log(us) / GROWTH) + 1;
  return b < BUCKETS ? b : BUCKETS - 1;
}

/** Adds `from` into `into` (both plain arrays of counts). */
export function mergeHistogram(into: Histogram, from: Histogram): Histogram {
  for (let i = 0; i < BUCKETS; i++) into[i]! += from[i] ?? 0;
  return into;
}

export function histogramCount(h: Histogram): number {
  let n = 0;
  for (const c of h) n += c;
  return n;
}

/** The value (µs) below which a fraction `q` of the samples fall; NaN when empty. */
export function histogramQuantile(h: Histogram, q: number): number {
  const total = histogramCount(h);
  if (total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += h[i]!;
    if (seen >= rank) return i === 0 ? 0 : Math.exp((i - 0.5) * GROWTH);
  }
  return Number.NaN;
}

/** Quantile of a plain list of numbers (linear interpolation). */
export function quantile(values: number[], q: number): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const pos = (v.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return v[lo]! + (v[hi]! - v[lo]!) * (pos - lo);
}

export const median = (values: number[]): number => quantile(values, 0.5);

/** Rounds to `digits` significant digits, keeping integers above that whole. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  if (x === 0) return 0;
  const magnitude = Math.floor(Math.log10(Math.abs(x)));
  if (magnitude >= digits - 1) return Math.round(x);
  const f = 10 ** (digits - 1 - magnitude);
  return Math.round(x * f) / f;
}
