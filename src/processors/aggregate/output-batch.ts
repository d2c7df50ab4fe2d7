import { MetricBatch } from '../../model/metric-batch.js';
import { MetricType, PointBits } from '../../model/types.js';
import { highBits, lowBits } from '../../model/wire.js';
import type { OutputDescriptor } from './aggregate-state.js';
import type { OutputSeriesTable } from './output-series.js';
import { timeOf } from './u64-time.js';

/**
 * The updated output series as one batch, and each reset for the next interval. Written
 * column by column (times as u64 halves, histogram counts as words): through the object
 * API a flush of 50,000 outputs took ~150 ms — an event-loop stall every interval.
 * `descriptors` gives each output's resource, scope and metric by its metric id.
 */
export function buildOutputBatch(
  outputs: OutputSeriesTable,
  descriptors: readonly OutputDescriptor[],
): MetricBatch {
  const n = outputs.count;
  const updated = outputs.updated;
  let count = 0;
  for (let o = 0; o < n; o++) count += updated[o];
  const batch = new MetricBatch({ points: count });
  if (count === 0) return batch;
  const groups = new BatchMetrics(batch);
  const points = batch.points;
  const d = batch.distributions;
  for (let o = 0; o < n; o++) {
    if (updated[o] === 0) continue;
    const metricId = outputs.metric(o);
    const descriptor = descriptors[metricId];
    const m = groups.metricOf(metricId, descriptor);
    const { type, temporality } = descriptor.metric;
    const set = batch.attributes.internBytes(outputs.attributes(o), outputs.hash(o));
    const series = batch.seriesOf(m, set);
    if (type === MetricType.ExponentialHistogram) {
      addExponentialPoint(batch, series, outputs, o);
      outputs.resetAfterEmit(o, type, temporality);
      continue;
    }
    const i = batch.appendPointRow(series);
    const at = 2 * i;
    if (type !== MetricType.Gauge) {
      points.startTime.u32[at] = outputs.startLo[o];
      points.startTime.u32[at + 1] = outputs.startHi[o];
    }
    points.time.u32[at] = outputs.timeLo[o];
    points.time.u32[at + 1] = outputs.timeHi[o];
    if (type === MetricType.Gauge) {
      const samples = outputs.samples[o];
      points.value.f64[i] = samples > 0 ? outputs.sum[o] / samples : outputs.value[o];
      points.bits[i] = PointBits.HasValue;
    } else if (type === MetricType.Sum) {
      points.value.f64[i] = outputs.value[o];
      points.bits[i] = PointBits.HasValue;
    } else {
      writeHistogram(i, o);
    }
    outputs.resetAfterEmit(o, type, temporality);
  }
  return batch;

  function writeHistogram(i: number, o: number): void {
    const row = batch.appendDistributionRow(i);
    const layout = outputs.layout[o];
    const bounds = layout === -1 ? EMPTY : outputs.bounds(layout);
    const counts = outputs.bucketCounts(o);
    const total = outputs.value[o];
    d.total.u32[2 * row] = lowBits(total);
    d.total.u32[2 * row + 1] = highBits(total);
    points.value.f64[i] = outputs.sum[o];
    let bits = PointBits.HasSum;
    const min = outputs.min[o];
    const max = outputs.max[o];
    if (min <= max) {
      d.min[row] = min;
      d.max[row] = max;
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

  /** The batch's metric for the outputs of metric id `id`, added on first use. */
  metricOf(id: number, out: OutputDescriptor): number {
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

function addExponentialPoint(
  batch: MetricBatch,
  series: number,
  outputs: OutputSeriesTable,
  o: number,
): void {
  const buckets = outputs.exponential.get(o);
  const min = outputs.min[o];
  const max = outputs.max[o];
  batch.addExponentialHistogramPoint(series, {
    startTime: timeOf(outputs.startHi[o], outputs.startLo[o]),
    time: timeOf(outputs.timeHi[o], outputs.timeLo[o]),
    count: outputs.value[o],
    sum: outputs.sum[o],
    ...(min <= max ? { min, max } : {}),
    scale: buckets?.scale ?? 0,
    zeroCount: buckets?.zeroCount ?? 0,
    zeroThreshold: buckets?.zeroThreshold ?? 0,
    positive: toBuckets(buckets?.positive),
    negative: toBuckets(buckets?.negative),
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
