/** An exponential histogram's buckets, as a point view gives them. */
export interface ExponentialBuckets {
  scale: number;
  zeroCount: number;
  zeroThreshold: number;
  positive?: { offset: number; bucketCounts: ArrayLike<bigint> };
  negative?: { offset: number; bucketCounts: ArrayLike<bigint> };
}

/** Classic bucket upper bounds (ascending) and the count in each (not cumulative). */
export interface ClassicBuckets {
  bounds: number[];
  counts: number[];
}

/**
 * An exponential histogram as classic `le` buckets, for backends without native
 * histograms. Bucket `i` at scale `s` covers (base^i, base^(i+1)] with base = 2^(2^-s), so
 * its `le` is base^(i+1); negative buckets mirror that below zero, and the zero bucket's
 * `le` is its threshold. When more than `maxBuckets` positive (or negative) buckets would
 * result, the scale is lowered first (each step merges neighbours pairwise), trading
 * resolution for a bounded number of series. Counts are preserved exactly.
 */
export function exponentialAsClassic(h: ExponentialBuckets, maxBuckets: number): ClassicBuckets {
  const positive = populated(h.positive);
  const negative = populated(h.negative);
  let scale = h.scale;
  while (scale > -10 && (span(positive) > maxBuckets || span(negative) > maxBuckets)) {
    halve(positive);
    halve(negative);
    scale--;
  }
  const upper = (index: number) => 2 ** ((index + 1) * 2 ** -scale);
  const bounds: number[] = [];
  const counts: number[] = [];
  // Most negative first: negative bucket i covers [-base^(i+1), -base^i).
  for (const index of [...negative.keys()].sort((a, b) => b - a)) {
    bounds.push(-(2 ** (index * 2 ** -scale)));
    counts.push(negative.get(index)!);
  }
  if (h.zeroCount > 0 || positive.size > 0 || negative.size > 0) {
    bounds.push(h.zeroThreshold);
    counts.push(h.zeroCount);
  }
  for (const index of [...positive.keys()].sort((a, b) => a - b)) {
    bounds.push(upper(index));
    counts.push(positive.get(index)!);
  }
  return { bounds, counts };
}

function populated(buckets: ExponentialBuckets['positive']): Map<number, number> {
  const out = new Map<number, number>();
  if (!buckets) return out;
  for (let k = 0; k < buckets.bucketCounts.length; k++) {
    const n = Number(buckets.bucketCounts[k]);
    if (n > 0) out.set(buckets.offset + k, n);
  }
  return out;
}

function span(buckets: Map<number, number>): number {
  if (buckets.size === 0) return 0;
  const indexes = [...buckets.keys()];
  return Math.max(...indexes) - Math.min(...indexes) + 1;
}

/** One scale down: bucket i becomes i >> 1 (floor, also for negative indexes). */
function halve(buckets: Map<number, number>): void {
  const merged = new Map<number, number>();
  for (const [index, n] of buckets) merged.set(index >> 1, (merged.get(index >> 1) ?? 0) + n);
  buckets.clear();
  for (const [index, n] of merged) buckets.set(index, n);
}
