import {
  keyValuesToPlain,
  type MetricBatch,
  MetricType,
  metricTypeName,
  PointView,
  type Temporality,
} from '../../model/index.js';
import { toHex } from '../json/json-scalars.js';

/**
 * The flat form: one self-contained JSON object per data point, for files, consoles, `jq`
 * and log pipelines. Times are RFC 3339 with all nine fraction digits (exact and readable);
 * int64 values beyond 2^53 and non-finite doubles are strings so no JSON reader loses them.
 */
export interface FlatPoint {
  name: string;
  description?: string;
  unit?: string;
  type: string;
  temporality?: 'delta' | 'cumulative';
  monotonic?: boolean;
  value?: number | string;
  count?: number | string;
  sum?: number | string;
  min?: number | string;
  max?: number | string;
  bounds?: (number | string)[];
  bucketCounts?: (number | string)[];
  scale?: number;
  zeroCount?: number | string;
  zeroThreshold?: number | string;
  positive?: { offset: number; bucketCounts: (number | string)[] };
  negative?: { offset: number; bucketCounts: (number | string)[] };
  quantiles?: { quantile: number | string; value: number | string }[];
  start?: string;
  time: string;
  flags?: number;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  scope: { name: string; version?: string };
  exemplars?: Record<string, unknown>[];
}

/** Renders every point of the batch as one JSON line (each line ends with `\n`). */
export function encodeFlatJsonLines(batch: MetricBatch): string {
  let out = '';
  for (const point of flatPoints(batch)) out += `${JSON.stringify(point)}\n`;
  return out;
}

export function* flatPoints(batch: MetricBatch): IterableIterator<FlatPoint> {
  const resources = batch.resources.map((r) => keyValuesToPlain(r.attributes));
  const scopes = batch.scopes.map((s) =>
    s.version ? { name: s.name, version: s.version } : { name: s.name },
  );
  const view = new PointView(batch);
  for (let i = 0; i < batch.pointCount; i++) {
    view.at(i);
    const metric = view.metric;
    const scope = batch.scopes[metric.scope];
    const point: FlatPoint = {
      name: metric.name,
      type: metricTypeName(metric.type),
      time: formatNanos(view.time),
      attributes: keyValuesToPlain(view.attributes),
      resource: resources[scope.resource],
      scope: scopes[metric.scope],
    };
    if (metric.description) point.description = metric.description;
    if (metric.unit) point.unit = metric.unit;
    const temporality = temporalityName(metric.temporality);
    if (temporality) point.temporality = temporality;
    if (metric.type === MetricType.Sum) point.monotonic = metric.monotonic;
    if (view.startTime !== 0n) point.start = formatNanos(view.startTime);
    if (view.flags !== 0) point.flags = view.flags;
    addValues(point, view, metric.type);
    const exemplars = view.exemplars;
    if (exemplars.length) {
      point.exemplars = exemplars.map((e) => ({
        time: formatNanos(e.time),
        ...(e.value !== undefined ? { value: exact(e.value) } : {}),
        ...(e.traceId.length ? { traceId: toHex(e.traceId) } : {}),
        ...(e.spanId.length ? { spanId: toHex(e.spanId) } : {}),
        ...(e.filteredAttributes.length
          ? { attributes: keyValuesToPlain(e.filteredAttributes) }
          : {}),
      }));
    }
    yield point;
  }
}

function addValues(point: FlatPoint, view: PointView, type: MetricType): void {
  switch (type) {
    case MetricType.Gauge:
    case MetricType.Sum: {
      const value = view.exactValue;
      if (value !== undefined) point.value = exact(value);
      return;
    }
    case MetricType.Empty:
      return;
    default:
      break;
  }
  point.count = exact(view.count);
  const sum = view.sum;
  if (sum !== undefined) point.sum = exact(sum);
  if (view.min !== undefined) point.min = exact(view.min);
  if (view.max !== undefined) point.max = exact(view.max);
  if (type === MetricType.Histogram) {
    point.bounds = [...view.bounds].map(exact);
    point.bucketCounts = [...view.bucketCounts].map(exact);
  } else if (type === MetricType.ExponentialHistogram) {
    point.scale = view.scale;
    point.zeroCount = exact(view.zeroCount);
    if (view.zeroThreshold !== 0) point.zeroThreshold = exact(view.zeroThreshold);
    const positive = view.positive;
    const negative = view.negative;
    if (positive)
      point.positive = {
        offset: positive.offset,
        bucketCounts: [...positive.bucketCounts].map(exact),
      };
    if (negative)
      point.negative = {
        offset: negative.offset,
        bucketCounts: [...negative.bucketCounts].map(exact),
      };
  } else {
    point.quantiles = view.quantiles.map((q) => ({
      quantile: exact(q.quantile),
      value: exact(q.value),
    }));
  }
}

function exact(value: number | bigint): number | string {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  return Number.isFinite(value) ? value : String(value);
}

function temporalityName(temporality: Temporality): 'delta' | 'cumulative' | undefined {
  return temporality === 1 ? 'delta' : temporality === 2 ? 'cumulative' : undefined;
}

/** Nanoseconds since the epoch → `2026-11-27T08:16:39.123456789Z`. */
export function formatNanos(nanos: bigint): string {
  const millis = nanos / 1_000_000n;
  const date = new Date(Number(millis));
  if (Number.isNaN(date.getTime())) return nanos.toString();
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  return `${date.toISOString().slice(0, 19)}.${fraction}Z`;
}
