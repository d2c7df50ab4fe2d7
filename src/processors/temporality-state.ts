import { BatchCopier } from '../model/batch-copier.js';
import type { MetricBatch } from '../model/metric-batch.js';
import { PointView } from '../model/point-view.js';
import { type MetricDescriptor, MetricType, PointBits, type Temporality } from '../model/types.js';
import { SeriesKeys } from './series-key.js';

/** The running state of one series in a temporality conversion. */
export interface SeriesState {
  start: bigint;
  time: bigint;
  /** Number points: the value (bigint for int64 sums). */
  value: number | bigint;
  /** Histograms. */
  bounds?: number[];
  counts?: number[];
  sum?: number;
  count?: number;
  /** Wall clock of the last update (staleness). */
  seen: number;
}

/** What to emit for one input point: its converted values, or nothing. */
export type Emit = SeriesState | undefined;

/** A point's values as a state (before any conversion). */
export function stateOf(view: PointView, now: number): SeriesState {
  if (view.metric.type === MetricType.Histogram) {
    return {
      start: view.startTime,
      time: view.time,
      value: 0,
      bounds: [...view.bounds],
      counts: [...view.bucketCounts].map(Number),
      sum: view.sum ?? 0,
      count: Number(view.count),
      seen: now,
    };
  }
  return { start: view.startTime, time: view.time, value: view.exactValue ?? 0, seen: now };
}

/**
 * Runs a per-series conversion over a batch: `convert` decides, for each point of the
 * metrics `applies` selects, what to emit (or to drop it); everything else passes unchanged.
 * The result is a new batch with the emitted values and `temporality` on converted metrics;
 * min and max are dropped from converted histograms (they cannot be derived).
 */
export function convertBatch(
  batch: MetricBatch,
  applies: (metric: MetricDescriptor) => boolean,
  temporality: Temporality,
  convert: (key: string, view: PointView) => Emit,
): MetricBatch {
  const n = batch.pointCount;
  const keys = new SeriesKeys(batch);
  const view = new PointView(batch);
  const emits: (Emit | null)[] = new Array(n).fill(null); // null: unchanged
  let changed = false;
  for (let i = 0; i < n; i++) {
    view.at(i);
    if (!applies(view.metric)) continue;
    changed = true;
    const emit = convert(keys.of(i), view);
    emits[i] = emit;
  }
  if (!changed) return batch;
  const copier = new BatchCopier();
  copier.append(batch, 0, n, { keep: (i) => emits[i] !== undefined });
  const target = copier.target;
  const points = target.points;
  const d = target.distributions;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const emit = emits[i];
    if (emit === undefined) continue;
    if (emit !== null) {
      points.startTime.u64[j] = emit.start;
      points.time.u64[j] = emit.time;
      const row = points.detail[j];
      if (emit.counts) {
        const start = d.positiveStart[row];
        for (let k = 0; k < emit.counts.length && k < d.positiveLength[row]; k++)
          d.bucketCounts.u64[start + k] = BigInt(emit.counts[k]);
        d.total.u64[row] = BigInt(emit.count ?? 0);
        points.value.f64[j] = emit.sum ?? 0;
        points.bits[j] =
          (points.bits[j] | PointBits.HasSum) & ~(PointBits.HasMin | PointBits.HasMax);
      } else if (typeof emit.value === 'bigint') points.value.i64[j] = emit.value;
      else points.value.f64[j] = emit.value;
    }
    j++;
  }
  for (const metric of target.metrics) if (applies(metric)) metric.temporality = temporality;
  return target;
}

/** Difference of two values of one kind (int64 sums stay exact). */
export function subtract(a: number | bigint, b: number | bigint): number | bigint {
  return typeof a === 'bigint' && typeof b === 'bigint' ? a - b : Number(a) - Number(b);
}

export function add(a: number | bigint, b: number | bigint): number | bigint {
  return typeof a === 'bigint' && typeof b === 'bigint' ? a + b : Number(a) + Number(b);
}

export function sameBounds(a: number[] | undefined, b: number[] | undefined): boolean {
  return (
    a !== undefined && b !== undefined && a.length === b.length && a.every((x, k) => x === b[k])
  );
}

/**
 * Series states as bytes, for a processor's state store: JSON, with the bigints (times,
 * int64 values) as decimal strings.
 */
export function encodeStates(states: Iterable<[string, SeriesState]>): Uint8Array {
  const rows = [];
  for (const [key, state] of states) {
    rows.push([
      key,
      String(state.start),
      String(state.time),
      typeof state.value === 'bigint' ? { int: String(state.value) } : state.value,
      state.seen,
      state.counts ? [state.bounds, state.counts, state.sum, state.count] : null,
    ]);
  }
  return Buffer.from(JSON.stringify(rows));
}

export function decodeStates(bytes: Uint8Array): [string, SeriesState][] {
  type Row = [
    string,
    string,
    string,
    number | { int: string },
    number,
    [number[], number[], number, number] | null,
  ];
  const rows = JSON.parse(Buffer.from(bytes).toString('utf8')) as Row[];
  return rows.map(([key, start, time, value, seen, histogram]) => {
    const state: SeriesState = {
      start: BigInt(start),
      time: BigInt(time),
      value: typeof value === 'number' ? value : BigInt(value.int),
      seen,
    };
    if (histogram) {
      [state.bounds, state.counts, state.sum, state.count] = histogram;
    }
    return [key, state];
  });
}
