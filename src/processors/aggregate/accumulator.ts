import { hashBytes } from '../../model/attribute-table.js';
import type { PointView } from '../../model/point-view.js';
import {
  type MetricDescriptor,
  MetricType,
  type Resource,
  type Scope,
  Temporality,
} from '../../model/types.js';

/** One output series of the aggregate processor and what it has accumulated. */
export interface OutputSeries {
  resource: Resource;
  /** Identity of the resource, and the output attribute set in wire form, computed once. */
  resourceKey: string;
  attributeBytes: Uint8Array;
  attributeHash: number;
  scope: Scope;
  metric: MetricDescriptor;
  start: bigint;
  time: bigint;
  updated: boolean;
  /** Sums: the total (cumulative running total, or this interval's delta). */
  value: number;
  /** Gauges. */
  last: number;
  lastTime: bigint;
  sum: number;
  samples: number;
  /** Explicit histograms. */
  bounds?: number[];
  counts?: number[];
  count: number;
  histogramSum: number;
  min: number;
  max: number;
  /** Exponential histograms: buckets by index at `scale`. */
  scale: number;
  zeroCount: number;
  zeroThreshold: number;
  positive: Map<number, number>;
  negative: Map<number, number>;
}

export function newOutputSeries(
  resource: Resource,
  resourceKey: string,
  scope: Scope,
  metric: MetricDescriptor,
  attributeBytes: Uint8Array,
  view: PointView,
): OutputSeries {
  return {
    resource,
    resourceKey,
    attributeBytes,
    attributeHash: hashBytes(attributeBytes),
    scope,
    metric,
    start: view.startTime !== 0n ? view.startTime : view.time,
    time: view.time,
    updated: false,
    value: 0,
    last: 0,
    lastTime: 0n,
    sum: 0,
    samples: 0,
    count: 0,
    histogramSum: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
    scale: view.metric.type === MetricType.ExponentialHistogram ? view.scale : 0,
    zeroCount: 0,
    zeroThreshold: 0,
    positive: new Map(),
    negative: new Map(),
  };
}

/** The part of an input point that adds to its output: the point itself for deltas, the change since the previous point of the same input series for cumulatives. */
export interface Contribution {
  value: number;
  counts?: number[];
  count: number;
  sum: number;
  positive?: Map<number, number>;
  negative?: Map<number, number>;
  zeroCount: number;
}

/** Adds one contribution; histograms with other bounds than the series' are refused (false). */
export function accumulate(
  out: OutputSeries,
  view: PointView,
  c: Contribution,
  gaugeMode: 'last' | 'mean',
): boolean {
  const metric = view.metric;
  if (view.startTime !== 0n && view.startTime < out.start) out.start = view.startTime;
  if (view.time > out.time) out.time = view.time;
  out.updated = true;
  switch (metric.type) {
    case MetricType.Gauge: {
      const value = view.value;
      if (gaugeMode === 'mean') {
        out.sum += value;
        out.samples++;
      }
      if (view.time >= out.lastTime) {
        out.last = value;
        out.lastTime = view.time;
      }
      return true;
    }
    case MetricType.Sum:
      out.value += c.value;
      return true;
    case MetricType.Histogram: {
      const bounds = [...view.bounds];
      if (!out.bounds) {
        out.bounds = bounds;
        out.counts = new Array(bounds.length + 1).fill(0);
      } else if (
        out.bounds.length !== bounds.length ||
        out.bounds.some((b, k) => b !== bounds[k])
      ) {
        return false;
      }
      c.counts?.forEach((n, k) => {
        out.counts![k] += n;
      });
      out.count += c.count;
      out.histogramSum += c.sum;
      if (view.min !== undefined) out.min = Math.min(out.min, view.min);
      if (view.max !== undefined) out.max = Math.max(out.max, view.max);
      return true;
    }
    case MetricType.ExponentialHistogram: {
      // Merge at the coarser scale: each bucket index i at scale s is i >> (s - target) at target.
      const target = Math.min(out.scale, view.scale);
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
      return true;
    }
    default:
      return false;
  }
}

/** After an emit: deltas start over; cumulative totals carry on. */
export function resetAfterEmit(out: OutputSeries): void {
  out.updated = false;
  out.sum = 0;
  out.samples = 0;
  if (out.metric.temporality !== Temporality.Delta) return;
  out.start = out.time;
  out.value = 0;
  out.count = 0;
  out.histogramSum = 0;
  out.counts = out.counts?.map(() => 0);
  out.min = Number.POSITIVE_INFINITY;
  out.max = Number.NEGATIVE_INFINITY;
  out.zeroCount = 0;
  out.positive = new Map();
  out.negative = new Map();
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
