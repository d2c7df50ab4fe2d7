import type { KeyValue } from './any-value.js';
import type { MetricBatch } from './metric-batch.js';
import { type Exemplar, type MetricDescriptor, MetricType, PointBits } from './types.js';

export interface BucketsView {
  offset: number;
  bucketCounts: BigUint64Array;
}

/**
 * A movable window onto one point of a batch, for exporters and tests. Reading a field
 * reads the column; nothing is copied until asked (`bigint` getters allocate a bigint).
 */
export class PointView {
  readonly batch: MetricBatch;
  index = 0;

  constructor(batch: MetricBatch) {
    this.batch = batch;
  }

  at(index: number): this {
    this.index = index;
    return this;
  }

  get series(): number {
    return this.batch.points.series[this.index];
  }

  get metricIndex(): number {
    return this.batch.seriesMetric(this.series);
  }

  get metric(): MetricDescriptor {
    return this.batch.metrics[this.metricIndex];
  }

  get attributeSet(): number {
    return this.batch.seriesAttributes(this.series);
  }

  get attributes(): KeyValue[] {
    return this.batch.attributes.values(this.attributeSet);
  }

  get startTime(): bigint {
    return this.batch.points.startTime.u64[this.index];
  }

  get time(): bigint {
    return this.batch.points.time.u64[this.index];
  }

  get flags(): number {
    return this.batch.points.flags[this.index];
  }

  get bits(): number {
    return this.batch.points.bits[this.index];
  }

  /** Number points: whether a value is present at all. */
  get hasValue(): boolean {
    return (this.bits & PointBits.HasValue) !== 0;
  }

  get isInt(): boolean {
    return (this.bits & PointBits.Int) !== 0;
  }

  /** The number value as a double (int64 values converted, possibly rounding past 2^53). */
  get value(): number {
    const points = this.batch.points;
    return this.isInt ? Number(points.value.i64[this.index]) : points.value.f64[this.index];
  }

  /** The exact number value: `bigint` for int64, `number` for double, `undefined` if absent. */
  get exactValue(): number | bigint | undefined {
    if (!this.hasValue) return undefined;
    const points = this.batch.points;
    return this.isInt ? points.value.i64[this.index] : points.value.f64[this.index];
  }

  get #row(): number {
    return this.batch.points.detail[this.index];
  }

  get isDistribution(): boolean {
    const type = this.metric.type;
    return (
      type === MetricType.Histogram ||
      type === MetricType.ExponentialHistogram ||
      type === MetricType.Summary
    );
  }

  get count(): bigint {
    return this.batch.distributions.total.u64[this.#row];
  }

  get sum(): number | undefined {
    if (this.metric.type !== MetricType.Summary && (this.bits & PointBits.HasSum) === 0) {
      return undefined;
    }
    return this.batch.points.value.f64[this.index];
  }

  get min(): number | undefined {
    return this.bits & PointBits.HasMin ? this.batch.distributions.min[this.#row] : undefined;
  }

  get max(): number | undefined {
    return this.bits & PointBits.HasMax ? this.batch.distributions.max[this.#row] : undefined;
  }

  /** Explicit histogram bounds (a view into the batch; do not modify). */
  get bounds(): Float64Array {
    const d = this.batch.distributions;
    const row = this.#row;
    return d.floats.subarray(d.boundsStart[row], d.boundsStart[row] + d.boundsLength[row]);
  }

  /** Explicit histogram bucket counts (a view into the batch; do not modify). */
  get bucketCounts(): BigUint64Array {
    const d = this.batch.distributions;
    const row = this.#row;
    const start = d.positiveStart[row];
    return d.bucketCounts.u64.subarray(start, start + d.positiveLength[row]);
  }

  get scale(): number {
    return this.batch.distributions.scale[this.#row];
  }

  get zeroCount(): bigint {
    return this.batch.distributions.zeroCount.u64[this.#row];
  }

  get zeroThreshold(): number {
    return this.batch.distributions.zeroThreshold[this.#row];
  }

  get positive(): BucketsView | undefined {
    if ((this.bits & PointBits.HasPositive) === 0) return undefined;
    const d = this.batch.distributions;
    const row = this.#row;
    const start = d.positiveStart[row];
    return {
      offset: d.positiveOffset[row],
      bucketCounts: d.bucketCounts.u64.subarray(start, start + d.positiveLength[row]),
    };
  }

  get negative(): BucketsView | undefined {
    if ((this.bits & PointBits.HasNegative) === 0) return undefined;
    const d = this.batch.distributions;
    const row = this.#row;
    const start = d.negativeStart[row];
    return {
      offset: d.negativeOffset[row],
      bucketCounts: d.bucketCounts.u64.subarray(start, start + d.negativeLength[row]),
    };
  }

  get quantiles(): { quantile: number; value: number }[] {
    const d = this.batch.distributions;
    const row = this.#row;
    const out: { quantile: number; value: number }[] = [];
    const start = d.boundsStart[row];
    for (let k = 0; k < d.boundsLength[row]; k += 2) {
      out.push({ quantile: d.floats[start + k], value: d.floats[start + k + 1] });
    }
    return out;
  }

  get exemplars(): Exemplar[] {
    const points = this.batch.points;
    const end = points.exemplarEnd[this.index];
    const start = this.index === 0 ? 0 : points.exemplarEnd[this.index - 1];
    return end === start ? [] : this.batch.exemplars.slice(start, end);
  }
}
