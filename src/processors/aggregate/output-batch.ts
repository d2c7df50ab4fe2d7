import { MetricBatch } from '../../model/metric-batch.js';
import { MetricType, PointBits } from '../../model/types.js';
import { highBits, lowBits } from '../../model/wire.js';
import { type OutputSeries, resetAfterEmit, timeOf } from './accumulator.js';

/**
 * The updated output series as one batch, and each reset for the next interval. Written
 * column by column (times as u64 halves, histogram counts as words): through the object
 * API a flush of 50,000 outputs took ~150 ms — an event-loop stall every interval.
 */
export function buildOutputBatch(outputs: readonly OutputSeries[]): MetricBatch {
  let updated = 0;
  for (const out of outputs) if (out.updated) updated++;
  const batch = new MetricBatch({ points: updated });
  if (updated === 0) return batch;
  const groups = new BatchMetrics(batch);
  const points = batch.points;
  const d = batch.distributions;
  for (const out of outputs) {
    if (!out.updated) continue;
    const m = groups.metricOf(out);
    const type = out.metric.type;
    if (type === MetricType.ExponentialHistogram) {
      addExponentialPoint(batch, m, out);
      resetAfterEmit(out);
      continue;
    }
    const set = batch.attributes.internBytes(out.attributeBytes, out.attributeHash);
    const i = batch.appendPointRow(batch.seriesOf(m, set));
    const at = 2 * i;
    if (type !== MetricType.Gauge) {
      points.startTime.u32[at] = out.startLo;
      points.startTime.u32[at + 1] = out.startHi;
    }
    points.time.u32[at] = out.timeLo;
    points.time.u32[at + 1] = out.timeHi;
    if (type === MetricType.Gauge) {
      points.value.f64[i] = out.samples > 0 ? out.sum / out.samples : out.last;
      points.bits[i] = PointBits.HasValue;
    } else if (type === MetricType.Sum) {
      points.value.f64[i] = out.value;
      points.bits[i] = PointBits.HasValue;
    } else {
      writeHistogram(i, out);
    }
    resetAfterEmit(out);
  }
  return batch;

  function writeHistogram(i: number, out: OutputSeries): void {
    const row = batch.appendDistributionRow(i);
    const bounds = out.bounds ?? EMPTY;
    const counts = out.counts ?? EMPTY;
    d.total.u32[2 * row] = lowBits(out.count);
    d.total.u32[2 * row + 1] = highBits(out.count);
    points.value.f64[i] = out.histogramSum;
    let bits = PointBits.HasSum;
    if (out.min <= out.max) {
      d.min[row] = out.min;
      d.max[row] = out.max;
      bits |= PointBits.HasMin | PointBits.HasMax;
    }
    points.bits[i] = bits;
    d.reserveBucketCounts(counts.length);
    const words = d.bucketCounts.u32;
    let used = d.bucketCountsUsed;
    d.positiveStart[row] = used;
    d.positiveLength[row] = counts.length;
    for (let k = 0; k < counts.length; k++, used++) {
      words[2 * used] = lowBits(counts[k]);
      words[2 * used + 1] = highBits(counts[k]);
    }
    d.bucketCountsUsed = used;
    d.reserveFloats(bounds.length);
    d.floats.set(bounds, d.floatsUsed);
    d.commitBounds(row, bounds.length);
  }
}

const EMPTY = new Float64Array(0);

/** Resources, scopes and metrics of the batch, added once per output group. */
class BatchMetrics {
  readonly #batch: MetricBatch;
  readonly #resources = new Map<string, number>();
  readonly #scopes = new Map<string, number>();
  /** Batch metric index by the processor's metric id (-1: not added yet). */
  #byMetricId = new Int32Array(64).fill(-1);

  constructor(batch: MetricBatch) {
    this.#batch = batch;
  }

  metricOf(out: OutputSeries): number {
    const id = out.metricId;
    if (id >= this.#byMetricId.length) {
      const grown = new Int32Array(Math.max(id + 1, this.#byMetricId.length * 2)).fill(-1);
      grown.set(this.#byMetricId);
      this.#byMetricId = grown;
    }
    let m = this.#byMetricId[id];
    if (m !== -1) return m;
    const batch = this.#batch;
    let r = this.#resources.get(out.resourceKey);
    if (r === undefined) {
      r = batch.addResource(out.resource);
      this.#resources.set(out.resourceKey, r);
    }
    const scopeKey = `${r}\u0001${out.scope.name}\u0001${out.scope.version}`;
    let s = this.#scopes.get(scopeKey);
    if (s === undefined) {
      s = batch.addScope(r, out.scope);
      this.#scopes.set(scopeKey, s);
    }
    m = batch.addMetric(s, out.metric);
    this.#byMetricId[id] = m;
    return m;
  }
}

function addExponentialPoint(batch: MetricBatch, m: number, out: OutputSeries): void {
  const series = batch.seriesOf(
    m,
    batch.attributes.internBytes(out.attributeBytes, out.attributeHash),
  );
  batch.addExponentialHistogramPoint(series, {
    startTime: timeOf(out.startHi, out.startLo),
    time: timeOf(out.timeHi, out.timeLo),
    count: out.count,
    sum: out.histogramSum,
    ...(out.min <= out.max ? { min: out.min, max: out.max } : {}),
    scale: out.scale,
    zeroCount: out.zeroCount,
    zeroThreshold: out.zeroThreshold,
    positive: toBuckets(out.positive),
    negative: toBuckets(out.negative),
  });
}

function toBuckets(map: Map<number, number> | undefined): {
  offset: number;
  bucketCounts: number[];
} {
  if (!map || map.size === 0) return { offset: 0, bucketCounts: [] };
  const indexes = [...map.keys()];
  const low = Math.min(...indexes);
  const high = Math.max(...indexes);
  const counts = new Array(high - low + 1).fill(0);
  for (const [index, n] of map) counts[index - low] = n;
  return { offset: low, bucketCounts: counts };
}
