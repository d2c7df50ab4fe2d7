import type { KeyValue } from './any-value.js';
import type { MetricType, Temporality } from './types.js';

const EMPTY = new DataView(new ArrayBuffer(0));

/**
 * One data point's fields as plain numbers, overwritten point after point (no object per
 * point). The OTLP request scanner fills it from the wire; the aggregate processor fills
 * it from batch columns too, so both merge through the same code.
 */
export class PointRecord {
  /** Start time and time as the halves of their u64 nanoseconds (start 0: none). */
  startHi = 0;
  startLo = 0;
  timeHi = 0;
  timeLo = 0;
  /** `PointBits`: HasSum, HasMin, HasMax (histograms). */
  bits = 0;
  /** Number points: the value as a double (0 when the point has none). */
  value = 0;
  /** Histograms: count, sum, min and max (valid when their bit is set). */
  count = 0;
  sum = 0;
  min = 0;
  max = 0;
  /** Histograms: `countsLength` u64 bucket counts, little-endian, at byte `countsAt`. */
  counts: DataView = EMPTY;
  countsAt = 0;
  countsLength = 0;
  /** Histograms: `boundsLength` f64 explicit bounds, little-endian, at byte `boundsAt`. */
  bounds: DataView = EMPTY;
  boundsAt = 0;
  boundsLength = 0;
  /**
   * Scanned points: the attribute set in canonical wire form (entries tagged `0x0a`, as an
   * `AttributeTable` stores it) at `set[setStart, setEnd)`.
   */
  set: DataView = EMPTY;
  setStart = 0;
  setEnd = 0;
}

/** The identity of the metric whose points a scan reads next. */
export interface ScannedMetric {
  resourceAttributes: KeyValue[];
  resourceSchemaUrl: string;
  scopeName: string;
  scopeVersion: string;
  name: string;
  description: string;
  unit: string;
  type: MetricType;
  temporality: Temporality;
  /** Sums: whether the sum is monotonic. */
  monotonic: boolean;
}

/**
 * A consumer that can take the points of an OTLP request as it is scanned, without a
 * `MetricBatch` in between (`MetricsRequestScanner`). Two passes: first `visitMetric` before
 * each metric's points and `checkPoint` for every point — any `false` and nothing was
 * changed, the request goes the usual way — then `takePoint` for every point again, in the
 * same order (the visitor remembers what it found for each).
 */
export interface MetricsRequestVisitor {
  /** A request's scan begins (before its first pass). */
  beginScan(): void;
  /** The points that follow are of `metric`; false: this visitor cannot take them. */
  visitMetric(metric: ScannedMetric): boolean;
  /** First pass: whether the point can be taken, as it is, without a batch. */
  checkPoint(point: PointRecord): boolean;
  /** Second pass: take the point (the same points, in the same order, as `checkPoint`). */
  takePoint(point: PointRecord): void;
}

export function isRequestVisitor(value: object): value is MetricsRequestVisitor {
  return typeof (value as Partial<MetricsRequestVisitor>).checkPoint === 'function';
}
