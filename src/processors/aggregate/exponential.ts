/** The part of an exponential histogram point that adds to its output. */
export interface ExponentialContribution {
  count: number;
  sum: number;
  positive?: Map<number, number>;
  negative?: Map<number, number>;
  zeroCount: number;
}

/** Buckets of an exponential histogram point, by absolute index. */
export function bucketMap(
  buckets: { offset: number; bucketCounts: BigUint64Array } | undefined,
): Map<number, number> {
  const map = new Map<number, number>();
  if (!buckets) return map;
  buckets.bucketCounts.forEach((n, k) => {
    if (n > 0n) map.set(buckets.offset + k, Number(n));
  });
  return map;
}

/** The buckets of `current` grown since `previous` (a cumulative input's change). */
export function bucketsSince(
  current: Map<number, number> | undefined,
  previous: Map<number, number> | undefined,
): Map<number, number> | undefined {
  if (!current) return undefined;
  const out = new Map<number, number>();
  for (const [index, n] of current) {
    const d = n - (previous?.get(index) ?? 0);
    if (d > 0) out.set(index, d);
  }
  return out;
}

/** `buckets` at a scale `by` lower: index i becomes i >> by. */
export function downscale(buckets: Map<number, number>, by: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const [index, n] of buckets) addBucket(out, index >> by, n);
  return out;
}

export function addBucket(map: Map<number, number>, index: number, n: number): void {
  map.set(index, (map.get(index) ?? 0) + n);
}
