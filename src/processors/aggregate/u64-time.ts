/**
 * Times as the two 32-bit halves of their u64 nanoseconds, as the batch columns hold them:
 * the aggregate's per-point merge compares them without creating a `bigint`.
 */

/** Whether u64 time `a` (halves) is before `b`. */
export function before(aHi: number, aLo: number, bHi: number, bLo: number): boolean {
  return aHi < bHi || (aHi === bHi && aLo < bLo);
}

/** `hi`, `lo` halves → the u64 as a bigint. */
export function timeOf(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}
