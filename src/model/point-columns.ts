import { growFloat64, growInt32, growUint8, growUint32, nextCapacity, Words64 } from './words64.js';

/**
 * One row per data point, whatever its kind. Times are unsigned nanoseconds; `value` is the
 * number value (double or int64 per `PointBits.Int`) or, for distributions, the sum.
 * Codecs read and write these arrays directly; everyone else goes through `PointView`.
 */
export class PointColumns {
  count: number;
  series: Uint32Array<ArrayBuffer>;
  startTime: Words64;
  time: Words64;
  value: Words64;
  flags: Uint32Array<ArrayBuffer>;
  bits: Uint8Array<ArrayBuffer>;
  /** Row in `DistributionColumns` for histogram, exponential histogram and summary points. */
  detail: Uint32Array<ArrayBuffer>;
  /** Exemplars of point `i` are `exemplars[exemplarEnd[i - 1] ?? 0 .. exemplarEnd[i])`. */
  exemplarEnd: Uint32Array<ArrayBuffer>;

  /** `from`: columns that crossed a thread boundary as plain data (`MetricBatch.fromState`). */
  constructor(capacity = 16, from?: PointColumns) {
    this.count = from?.count ?? 0;
    this.series = from?.series ?? new Uint32Array(capacity);
    this.startTime = new Words64(capacity, from?.startTime);
    this.time = new Words64(capacity, from?.time);
    this.value = new Words64(capacity, from?.value);
    this.flags = from?.flags ?? new Uint32Array(capacity);
    this.bits = from?.bits ?? new Uint8Array(capacity);
    this.detail = from?.detail ?? new Uint32Array(capacity);
    this.exemplarEnd = from?.exemplarEnd ?? new Uint32Array(capacity);
  }

  clear(): void {
    this.count = 0;
  }

  /** Reserves room for `extra` more rows. */
  reserve(extra: number): void {
    const needed = this.count + extra;
    const capacity = this.series.length;
    if (needed <= capacity) return;
    const next = nextCapacity(capacity, needed);
    const keep = this.count;
    this.series = growUint32(this.series, next);
    this.startTime.resize(next, keep);
    this.time.resize(next, keep);
    this.value.resize(next, keep);
    this.flags = growUint32(this.flags, next);
    this.bits = growUint8(this.bits, next);
    this.detail = growUint32(this.detail, next);
    this.exemplarEnd = growUint32(this.exemplarEnd, next);
  }
}

/**
 * One row per histogram, exponential histogram or summary point. Bucket counts of all rows
 * live in one flat `bucketCounts` column and bounds / quantiles in one flat `floats` column,
 * addressed by start and length, so a batch holds a handful of arrays however many points.
 * Explicit histograms use the `positive*` range for their bucket counts; summaries keep
 * (quantile, value) pairs in `floats` at `boundsStart` with `boundsLength` doubles.
 */
export class DistributionColumns {
  count: number;
  total: Words64;
  min: Float64Array<ArrayBuffer>;
  max: Float64Array<ArrayBuffer>;
  scale: Int32Array<ArrayBuffer>;
  zeroCount: Words64;
  zeroThreshold: Float64Array<ArrayBuffer>;
  positiveOffset: Int32Array<ArrayBuffer>;
  positiveStart: Uint32Array<ArrayBuffer>;
  positiveLength: Uint32Array<ArrayBuffer>;
  negativeOffset: Int32Array<ArrayBuffer>;
  negativeStart: Uint32Array<ArrayBuffer>;
  negativeLength: Uint32Array<ArrayBuffer>;
  boundsStart: Uint32Array<ArrayBuffer>;
  boundsLength: Uint32Array<ArrayBuffer>;

  bucketCounts: Words64;
  bucketCountsUsed: number;
  floats: Float64Array<ArrayBuffer>;
  floatsUsed: number;

  /** `from`: columns that crossed a thread boundary as plain data (`MetricBatch.fromState`). */
  constructor(capacity = 16, from?: DistributionColumns) {
    this.count = from?.count ?? 0;
    this.total = new Words64(capacity, from?.total);
    this.min = from?.min ?? new Float64Array(capacity);
    this.max = from?.max ?? new Float64Array(capacity);
    this.scale = from?.scale ?? new Int32Array(capacity);
    this.zeroCount = new Words64(capacity, from?.zeroCount);
    this.zeroThreshold = from?.zeroThreshold ?? new Float64Array(capacity);
    this.positiveOffset = from?.positiveOffset ?? new Int32Array(capacity);
    this.positiveStart = from?.positiveStart ?? new Uint32Array(capacity);
    this.positiveLength = from?.positiveLength ?? new Uint32Array(capacity);
    this.negativeOffset = from?.negativeOffset ?? new Int32Array(capacity);
    this.negativeStart = from?.negativeStart ?? new Uint32Array(capacity);
    this.negativeLength = from?.negativeLength ?? new Uint32Array(capacity);
    this.boundsStart = from?.boundsStart ?? new Uint32Array(capacity);
    this.boundsLength = from?.boundsLength ?? new Uint32Array(capacity);
    this.bucketCounts = new Words64(capacity * 8, from?.bucketCounts);
    this.bucketCountsUsed = from?.bucketCountsUsed ?? 0;
    this.floats = from?.floats ?? new Float64Array(64);
    this.floatsUsed = from?.floatsUsed ?? 0;
  }

  clear(): void {
    this.count = 0;
    this.bucketCountsUsed = 0;
    this.floatsUsed = 0;
  }

  reserve(extra: number): void {
    const needed = this.count + extra;
    const capacity = this.min.length;
    if (needed <= capacity) return;
    const next = nextCapacity(capacity, needed);
    const keep = this.count;
    this.total.resize(next, keep);
    this.min = growFloat64(this.min, next);
    this.max = growFloat64(this.max, next);
    this.scale = growInt32(this.scale, next);
    this.zeroCount.resize(next, keep);
    this.zeroThreshold = growFloat64(this.zeroThreshold, next);
    this.positiveOffset = growInt32(this.positiveOffset, next);
    this.positiveStart = growUint32(this.positiveStart, next);
    this.positiveLength = growUint32(this.positiveLength, next);
    this.negativeOffset = growInt32(this.negativeOffset, next);
    this.negativeStart = growUint32(this.negativeStart, next);
    this.negativeLength = growUint32(this.negativeLength, next);
    this.boundsStart = growUint32(this.boundsStart, next);
    this.boundsLength = growUint32(this.boundsLength, next);
  }

  /** Zeroes a row about to be filled (a cleared batch reuses rows). */
  clearRow(row: number): void {
    const at = 2 * row;
    this.total.u32[at] = this.total.u32[at + 1] = 0;
    this.zeroCount.u32[at] = this.zeroCount.u32[at + 1] = 0;
    this.min[row] = this.max[row] = this.zeroThreshold[row] = 0;
    this.scale[row] = this.positiveOffset[row] = this.negativeOffset[row] = 0;
    this.positiveStart[row] = this.positiveLength[row] = 0;
    this.negativeStart[row] = this.negativeLength[row] = 0;
    this.boundsStart[row] = this.boundsLength[row] = 0;
  }

  reserveBucketCounts(extra: number): void {
    const needed = this.bucketCountsUsed + extra;
    const capacity = this.bucketCounts.capacity;
    if (needed > capacity) {
      // Keep everything: a decoder may have written counts past `bucketCountsUsed` that it
      // has not committed yet.
      this.bucketCounts.resize(nextCapacity(capacity, needed), capacity);
    }
  }

  reserveFloats(extra: number): void {
    const needed = this.floatsUsed + extra;
    if (needed > this.floats.length) {
      this.floats = growFloat64(this.floats, nextCapacity(this.floats.length, needed));
    }
  }

  /**
   * Points of one series usually share their bounds: reuse the previous row's range when
   * the `length` doubles just written at `floatsUsed` equal it, so they are stored once.
   */
  commitBounds(row: number, length: number): void {
    const start = this.floatsUsed;
    if (row > 0 && this.boundsLength[row - 1] === length) {
      const previous = this.boundsStart[row - 1];
      const floats = this.floats;
      let same = true;
      for (let i = 0; i < length; i++) {
        if (!Object.is(floats[previous + i], floats[start + i])) {
          same = false;
          break;
        }
      }
      if (same) {
        this.boundsStart[row] = previous;
        this.boundsLength[row] = length;
        return;
      }
    }
    this.boundsStart[row] = start;
    this.boundsLength[row] = length;
    this.floatsUsed = start + length;
  }
}
