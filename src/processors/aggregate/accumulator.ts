import { hashBytes } from '../../model/attribute-table.js';
import type { PointColumns } from '../../model/point-columns.js';
import type { PointView } from '../../model/point-view.js';
import type { PointRecord } from '../../model/request-visitor.js';
import {
  type MetricDescriptor,
  type Resource,
  type Scope,
  Temporality,
} from '../../model/types.js';

/**
 * One output series of the aggregate processor and what it has accumulated. Times are kept
 * as the two 32-bit halves of their u64 nanoseconds, as the batch columns hold them, so
 * merging a point creates no `bigint`.
 */
export interface OutputSeries {
  resource: Resource;
  /** Identity of the resource, and the output attribute set in wire form, computed once. */
  resourceKey: string;
  attributeBytes: Uint8Array;
  attributeHash: number;
  scope: Scope;
  metric: MetricDescriptor;
  /** Identity in the processor's output index. */
  key: string;
  /** The processor's id of the output's (resource, scope, metric): groups outputs at emit. */
  metricId: number;
  /** Wall clock (ms) when a member last contributed, for staleness. */
  seenAt: number;
  /** Earliest start of the members. */
  startHi: number;
  startLo: number;
  /** Latest time of the members. */
  timeHi: number;
  timeLo: number;
  updated: boolean;
  /** Sums: the total (cumulative running total, or this interval's delta). */
  value: number;
  /** Gauges. */
  last: number;
  lastHi: number;
  lastLo: number;
  sum: number;
  samples: number;
  /** Explicit histograms. */
  bounds?: Float64Array;
  counts?: Float64Array;
  count: number;
  histogramSum: number;
  min: number;
  max: number;
  /** Exponential histograms: buckets by index at `scale` (made on first use). */
  scale: number;
  zeroCount: number;
  zeroThreshold: number;
  positive?: Map<number, number>;
  negative?: Map<number, number>;
}

/** A new output series, its time range that of point `i` (its start, or its time if none). */
export function newOutputSeries(
  key: string,
  metricId: number,
  resource: Resource,
  resourceKey: string,
  scope: Scope,
  metric: MetricDescriptor,
  attributeBytes: Uint8Array,
  points: PointColumns,
  i: number,
  scale: number,
): OutputSeries {
  const start = points.startTime.u32;
  const time = points.time.u32;
  const hasStart = (start[2 * i] | start[2 * i + 1]) !== 0;
  return {
    key,
    metricId,
    seenAt: 0,
    resource,
    resourceKey,
    attributeBytes,
    attributeHash: hashBytes(attributeBytes),
    scope,
    metric,
    startHi: hasStart ? start[2 * i + 1] : time[2 * i + 1],
    startLo: hasStart ? start[2 * i] : time[2 * i],
    timeHi: time[2 * i + 1],
    timeLo: time[2 * i],
    updated: false,
    value: 0,
    last: 0,
    lastHi: 0,
    lastLo: 0,
    sum: 0,
    samples: 0,
    count: 0,
    histogramSum: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
    scale,
    zeroCount: 0,
    zeroThreshold: 0,
    positive: undefined,
    negative: undefined,
  };
}

/** Whether u64 time `a` (halves) is before `b`. */
export function before(aHi: number, aLo: number, bHi: number, bLo: number): boolean {
  return aHi < bHi || (aHi === bHi && aLo < bLo);
}

/** `hi`, `lo` halves → the u64 as a bigint. */
export function timeOf(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Marks `out` updated by point `p`: earliest start, latest time. */
export function widenTimes(out: OutputSeries, p: PointRecord): void {
  const { startHi, startLo, timeHi, timeLo } = p;
  if ((startHi | startLo) !== 0 && before(startHi, startLo, out.startHi, out.startLo)) {
    out.startHi = startHi;
    out.startLo = startLo;
  }
  if (before(out.timeHi, out.timeLo, timeHi, timeLo)) {
    out.timeHi = timeHi;
    out.timeLo = timeLo;
  }
  out.updated = true;
}

/** A gauge point: the latest value wins (ties to the later arrival); `mean` also averages. */
export function addGauge(out: OutputSeries, p: PointRecord, mode: 'last' | 'mean'): void {
  if (mode === 'mean') {
    out.sum += p.value;
    out.samples++;
  }
  if (!before(p.timeHi, p.timeLo, out.lastHi, out.lastLo)) {
    out.last = p.value;
    out.lastHi = p.timeHi;
    out.lastLo = p.timeLo;
  }
}

/** The part of an exponential histogram point that adds to its output. */
export interface ExponentialContribution {
  count: number;
  sum: number;
  positive?: Map<number, number>;
  negative?: Map<number, number>;
  zeroCount: number;
}

/** Merges an exponential histogram contribution at the coarser of the two scales. */
export function addExponential(
  out: OutputSeries,
  view: PointView,
  c: ExponentialContribution,
): void {
  // Each bucket index i at scale s is i >> (s - target) at the target scale.
  const target = Math.min(out.scale, view.scale);
  out.positive ??= new Map();
  out.negative ??= new Map();
  if (target < out.scale) {
    out.positive = downscale(out.positive, out.scale - target);
    out.negative = downscale(out.negative, out.scale - target);
    out.scale = target;
  }
  const shift = view.scale - target;
  for (const [index, n] of c.positive ?? []) add(out.positive, index >> shift, n);
  for (const [index, n] of c.negative ?? []) add(out.negative, index >> shift, n);
  out.zeroCount += c.zeroCount;
  out.zeroThreshold = Math.max(out.zeroThreshold, view.zeroThreshold);
  out.count += c.count;
  out.histogramSum += c.sum;
  if (view.min !== undefined) out.min = Math.min(out.min, view.min);
  if (view.max !== undefined) out.max = Math.max(out.max, view.max);
}

/** After an emit: deltas start over; cumulative totals carry on. */
export function resetAfterEmit(out: OutputSeries): void {
  out.updated = false;
  out.sum = 0;
  out.samples = 0;
  if (out.metric.temporality !== Temporality.Delta) return;
  out.startHi = out.timeHi;
  out.startLo = out.timeLo;
  out.value = 0;
  out.count = 0;
  out.histogramSum = 0;
  out.counts?.fill(0);
  out.min = Number.POSITIVE_INFINITY;
  out.max = Number.NEGATIVE_INFINITY;
  out.zeroCount = 0;
  out.positive = undefined;
  out.negative = undefined;
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

function downscale(buckets: Map<number, number>, by: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const [index, n] of buckets) add(out, index >> by, n);
  return out;
}

function add(map: Map<number, number>, index: number, n: number): void {
  map.set(index, (map.get(index) ?? 0) + n);
}
