import type {
  DataPoint,
  ExponentialHistogram,
  Histogram,
  MetricData,
  ResourceMetrics,
  ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { MetricBatch, PointBits } from '../../model/index.js';
import { highBits, lowBits } from '../../model/wire.js';
import { encodeMetricsRequest, type MetricsRequestEncoder } from '../protobuf/encode-request.js';
import { SdkAttributeCache } from './attribute-cache.js';
import { writeHrTime } from './hr-time.js';
import {
  instrumentKey,
  metricType,
  otlpTemporality,
  SDK_EXPONENTIAL_HISTOGRAM,
  SDK_GAUGE,
  SDK_HISTOGRAM,
  SDK_SUM,
  STEP_POINTS,
  VALUE_TYPE_INT,
  yieldEvery,
} from './sdk-metric-data.js';

/**
 * SDK `ResourceMetrics` → `MetricBatch`, with the same OTLP mapping as the official
 * serializer (integral attribute numbers as `int_value`, INT instruments as `as_int`, ...).
 *
 * Attributes are encoded once per SDK attributes object (`SdkAttributeCache`).
 */
export class ResourceMetricsConverter {
  #attributes = new SdkAttributeCache();
  #sets = new Int32Array(1024);
  #conversion = 0;
  #scratch: MetricBatch | undefined;

  /**
   * `ResourceMetrics` → OTLP protobuf bytes through a batch this converter keeps and reuses,
   * so only the output is allocated (and not even that with an `encoder`, whose bytes are
   * valid until its next call): fresh typed arrays per export make V8 run full collections
   * for "external memory pressure" over the application's whole heap.
   */
  encode(resourceMetrics: ResourceMetrics, encoder?: MetricsRequestEncoder): Uint8Array {
    this.#scratch ??= new MetricBatch();
    const batch = this.convert(resourceMetrics, this.#scratch.clear());
    const bytes = encoder ? encoder.encode(batch) : encodeMetricsRequest(batch);
    this.#scratch.clear();
    return bytes;
  }

  convert(resourceMetrics: ResourceMetrics, into: MetricBatch = new MetricBatch()): MetricBatch {
    const batch = into;
    // A new conversion number invalidates the set ids memoised for the previous batch.
    this.#conversion++;
    const r = addResource(batch, resourceMetrics);
    for (const scopeMetrics of resourceMetrics.scopeMetrics) {
      const s = addScope(batch, r, scopeMetrics);
      for (const metric of scopeMetrics.metrics) {
        const m = addMetric(batch, s, metric);
        this.#points(
          batch,
          m,
          instrumentKey(scopeMetrics, metric),
          metric,
          0,
          metric.dataPoints.length,
        );
      }
    }
    return batch;
  }

  /**
   * Converts into batches of at most `maxPoints` points, handing each to `onBatch` when it
   * is full (and the last one at the end), and asks `pace` every few hundred points whether
   * to yield to the event loop: a million-point export never stalls the application for long.
   */
  async convertInChunks(
    resourceMetrics: ResourceMetrics,
    options: {
      maxPoints: number;
      /**
       * `undefined` to go on, or a promise to wait for first (a shared `EventLoopBudget`'s
       * `take`). Default: yield with `setImmediate` after every 8 ms of work.
       */
      pace?: () => Promise<void> | undefined;
      onBatch: (batch: MetricBatch) => void | Promise<void>;
      /** Where empty batches come from (a pool); sized for what is left by default. */
      newBatch?: (points: number) => MetricBatch;
    },
  ): Promise<void> {
    const { maxPoints, onBatch } = options;
    const pace = options.pace ?? yieldEvery(8);
    let remaining = 0;
    for (const scopeMetrics of resourceMetrics.scopeMetrics) {
      for (const metric of scopeMetrics.metrics) remaining += metric.dataPoints.length;
    }
    const newBatch = options.newBatch ?? ((points: number) => new MetricBatch({ points }));
    let batch = newBatch(Math.min(maxPoints, remaining));
    this.#conversion++;
    let r = -1;
    let s = -1;
    let m = -1;
    for (const scopeMetrics of resourceMetrics.scopeMetrics) {
      s = -1;
      for (const metric of scopeMetrics.metrics) {
        m = -1;
        const n = metric.dataPoints.length;
        for (let start = 0; start < n || (n === 0 && m === -1); ) {
          if (r === -1) r = addResource(batch, resourceMetrics);
          if (s === -1) s = addScope(batch, r, scopeMetrics);
          if (m === -1) m = addMetric(batch, s, metric);
          // Small steps, so the time budget is checked often whatever the batch size.
          const end = Math.min(n, start + STEP_POINTS, start + maxPoints - batch.pointCount);
          this.#points(batch, m, instrumentKey(scopeMetrics, metric), metric, start, end);
          start = end;
          if (batch.pointCount >= maxPoints) {
            remaining -= batch.pointCount;
            await onBatch(batch);
            batch = newBatch(Math.min(maxPoints, remaining));
            this.#conversion++;
            r = s = m = -1;
          }
          const wait = pace();
          if (wait) await wait;
          if (n === 0) break;
        }
      }
    }
    if (batch.pointCount > 0) await onBatch(batch);
  }

  #points(
    batch: MetricBatch,
    m: number,
    key: string,
    metric: MetricData,
    start: number,
    end: number,
  ): void {
    const sets = this.#resolveSets(batch, key, metric.dataPoints, start, end);
    switch (metric.dataPointType) {
      case SDK_GAUGE:
      case SDK_SUM:
        this.#numberPoints(
          batch,
          m,
          sets,
          metric.dataPoints,
          start,
          end,
          metric.descriptor.valueType === VALUE_TYPE_INT,
        );
        return;
      case SDK_HISTOGRAM:
        this.#histogramPoints(batch, m, sets, metric.dataPoints, start, end);
        return;
      case SDK_EXPONENTIAL_HISTOGRAM:
        this.#exponentialPoints(batch, m, sets, metric.dataPoints, start, end);
        return;
    }
  }

  #numberPoints(
    batch: MetricBatch,
    m: number,
    sets: Int32Array,
    dataPoints: DataPoint<number>[],
    start: number,
    end: number,
    isInt: boolean,
  ): void {
    const points = batch.points;
    points.reserve(end - start);
    for (let k = start; k < end; k++) {
      const dp = dataPoints[k];
      const i = batch.appendPointRow(batch.seriesOf(m, sets[k - start]));
      writeHrTime(points.startTime.u32, i, dp.startTime);
      writeHrTime(points.time.u32, i, dp.endTime);
      if (isInt) {
        const value = Math.trunc(dp.value);
        points.value.u32[2 * i] = lowBits(value);
        points.value.u32[2 * i + 1] = highBits(value);
        points.bits[i] = PointBits.Int | PointBits.HasValue;
      } else {
        points.value.f64[i] = dp.value;
        points.bits[i] = PointBits.HasValue;
      }
    }
  }

  #histogramPoints(
    batch: MetricBatch,
    m: number,
    sets: Int32Array,
    dataPoints: DataPoint<Histogram>[],
    start: number,
    end: number,
  ): void {
    const points = batch.points;
    const d = batch.distributions;
    points.reserve(end - start);
    d.reserve(end - start);
    for (let k = start; k < end; k++) {
      const dp = dataPoints[k];
      const h = dp.value;
      const row = beginDistributionPoint(batch, m, sets[k - start], dp, 0);
      const { boundaries, counts } = h.buckets;
      if (!sameAsPreviousBounds(d, row, boundaries)) {
        d.reserveFloats(boundaries.length);
        const floats = d.floats;
        const at = d.floatsUsed;
        for (let k = 0; k < boundaries.length; k++) floats[at + k] = boundaries[k];
        d.commitBounds(row, boundaries.length);
      }
      pushCounts(d, counts);
      d.positiveStart[row] = d.bucketCountsUsed - counts.length;
      d.positiveLength[row] = counts.length;
    }
  }

  #exponentialPoints(
    batch: MetricBatch,
    m: number,
    sets: Int32Array,
    dataPoints: DataPoint<ExponentialHistogram>[],
    start: number,
    end: number,
  ): void {
    const points = batch.points;
    const d = batch.distributions;
    points.reserve(end - start);
    d.reserve(end - start);
    for (let k = start; k < end; k++) {
      const dp = dataPoints[k];
      const h = dp.value;
      const both = PointBits.HasPositive | PointBits.HasNegative;
      const row = beginDistributionPoint(batch, m, sets[k - start], dp, both);
      d.scale[row] = h.scale;
      d.zeroCount.u32[2 * row] = lowBits(h.zeroCount);
      d.zeroCount.u32[2 * row + 1] = highBits(h.zeroCount);
      pushCounts(d, h.positive.bucketCounts);
      d.positiveOffset[row] = h.positive.offset;
      d.positiveStart[row] = d.bucketCountsUsed - h.positive.bucketCounts.length;
      d.positiveLength[row] = h.positive.bucketCounts.length;
      pushCounts(d, h.negative.bucketCounts);
      d.negativeOffset[row] = h.negative.offset;
      d.negativeStart[row] = d.bucketCountsUsed - h.negative.bucketCounts.length;
      d.negativeLength[row] = h.negative.bucketCounts.length;
    }
  }

  /**
   * The attribute set id of every point, in order. Instruments often share attribute
   * objects: the second instrument's points find their set without hashing or comparing.
   */
  #resolveSets(
    batch: MetricBatch,
    key: string,
    dataPoints: DataPoint<unknown>[],
    start: number,
    end: number,
  ): Int32Array {
    const cache = this.#attributes;
    const entries = cache.resolve(key, dataPoints, start, end);
    if (this.#sets.length < end - start) this.#sets = new Int32Array((end - start) * 2);
    const sets = this.#sets;
    const conversion = this.#conversion;
    const { conversions, sets: entrySets, slabs, slabOf, offsets, lengths, hashes } = cache;
    for (let k = start; k < end; k++) {
      const entry = entries[k];
      if (conversions[entry] !== conversion) {
        const offset = offsets[entry];
        const setEnd = offset + lengths[entry];
        const slab = slabs[slabOf[entry]];
        entrySets[entry] = batch.attributes.internSlice(slab, offset, setEnd, hashes[entry]);
        conversions[entry] = conversion;
      }
      sets[k - start] = entrySets[entry];
    }
    return sets;
  }
}

function addResource(batch: MetricBatch, resourceMetrics: ResourceMetrics): number {
  const { resource } = resourceMetrics;
  return batch.addResource({
    attributes: resource.attributes,
    schemaUrl: resource.schemaUrl ?? '',
  });
}

function addScope(batch: MetricBatch, r: number, scopeMetrics: ScopeMetrics): number {
  const { scope } = scopeMetrics;
  return batch.addScope(r, {
    name: scope.name,
    version: scope.version ?? '',
    schemaUrl: scope.schemaUrl ?? '',
  });
}

function addMetric(batch: MetricBatch, s: number, metric: MetricData): number {
  const { descriptor } = metric;
  return batch.addMetric(s, {
    name: descriptor.name,
    description: descriptor.description,
    unit: descriptor.unit,
    type: metricType(metric.dataPointType),
    temporality: otlpTemporality(metric),
    monotonic: metric.dataPointType === SDK_SUM && metric.isMonotonic,
  });
}

const sharedConverter = new ResourceMetricsConverter();

/** Converts what `@opentelemetry/sdk-metrics` hands an exporter into a `MetricBatch`. */
export function fromResourceMetrics(
  resourceMetrics: ResourceMetrics,
  into?: MetricBatch,
): MetricBatch {
  return sharedConverter.convert(resourceMetrics, into);
}

type Distributions = MetricBatch['distributions'];

/**
 * Appends a histogram or exponential histogram point and its distribution row, with times,
 * count, sum, min and max; returns the row.
 */
function beginDistributionPoint(
  batch: MetricBatch,
  m: number,
  set: number,
  dp: DataPoint<{ count: number; sum?: number; min?: number; max?: number }>,
  extraBits: number,
): number {
  const points = batch.points;
  const i = batch.appendPointRow(batch.seriesOf(m, set));
  writeHrTime(points.startTime.u32, i, dp.startTime);
  writeHrTime(points.time.u32, i, dp.endTime);
  return batch.appendDistribution(i, dp.value, extraBits);
}

function pushCounts(d: Distributions, counts: readonly number[]): void {
  d.reserveBucketCounts(counts.length);
  const words = d.bucketCounts.u32;
  let at = d.bucketCountsUsed;
  for (let k = 0; k < counts.length; k++, at++) {
    const count = counts[k];
    if (count <= 0xffffffff) {
      words[2 * at] = count;
      words[2 * at + 1] = 0;
    } else {
      words[2 * at] = lowBits(count);
      words[2 * at + 1] = highBits(count);
    }
  }
  d.bucketCountsUsed = at;
}

/** Points of one instrument share their boundaries: reuse the previous row's when equal. */
function sameAsPreviousBounds(
  d: Distributions,
  row: number,
  boundaries: readonly number[],
): boolean {
  if (row === 0 || d.boundsLength[row - 1] !== boundaries.length) return false;
  const start = d.boundsStart[row - 1];
  const floats = d.floats;
  for (let k = 0; k < boundaries.length; k++) {
    const b = boundaries[k];
    // `!==` alone would take -0 for 0; NaN never compares equal and falls back to a copy.
    if (floats[start + k] !== b || (b === 0 && 1 / b !== 1 / floats[start + k])) return false;
  }
  d.boundsStart[row] = start;
  d.boundsLength[row] = boundaries.length;
  return true;
}
