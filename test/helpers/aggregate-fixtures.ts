import pino from 'pino';
import { encodeMetricsRequest } from '../../src/codec/protobuf/encode-request.js';
import {
  type Consumer,
  type Exemplar,
  MetricBatch,
  MetricType,
  Temporality,
} from '../../src/index.js';
import { AggregateProcessor } from '../../src/processors/aggregate/aggregate-processor.js';
import { aggregateConfig } from '../../src/processors/aggregate/config.js';

// What the aggregate processor's tests and the scanner-vs-decoder fuzzing share: a consumer
// that keeps what it gets, a processor from rules, and generated OTLP requests.

const settings = { id: 'aggregate', logger: pino({ level: 'silent' }) };

export class Capture implements Consumer {
  readonly batches: MetricBatch[] = [];
  async consume(batch: MetricBatch): Promise<void> {
    this.batches.push(batch);
  }
  points() {
    return this.batches.flatMap((b) =>
      [...b.pointViews()].map((p) => ({
        name: p.metric.name,
        temporality: p.metric.temporality,
        attributes: Object.fromEntries(p.attributes.map((kv) => [kv.key, kv.value])),
        start: p.startTime,
        time: p.time,
        value:
          p.metric.type === MetricType.Gauge || p.metric.type === MetricType.Sum
            ? p.value
            : undefined,
        count: p.isDistribution ? Number(p.count) : undefined,
        sum: p.isDistribution ? p.sum : undefined,
        counts:
          p.metric.type === MetricType.Histogram ? [...p.bucketCounts].map(Number) : undefined,
        bounds: p.metric.type === MetricType.Histogram ? [...p.bounds] : undefined,
        exp:
          p.metric.type === MetricType.ExponentialHistogram
            ? { scale: p.scale, positive: p.positive, zero: Number(p.zeroCount) }
            : undefined,
        min: p.isDistribution ? p.min : undefined,
        max: p.isDistribution ? p.max : undefined,
      })),
    );
  }
}

export function processor(
  rules: unknown[],
  out: Consumer,
  clock?: () => number,
): AggregateProcessor {
  return new AggregateProcessor(
    settings,
    aggregateConfig.parse({ interval: '1h', rules }),
    out,
    clock,
  );
}

export function sortedPoints(capture: Capture): string[] {
  return capture
    .points()
    .map((p) => JSON.stringify(p, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)))
    .sort();
}

/** One point of a generated request: which metric, resource and attribute set, its value. */
export interface PointSpec {
  metric: number;
  resource: number;
  set: number;
  value: number;
  int: boolean;
  otherBounds: boolean;
  /** Number points: what the scan leaves to the decoder. */
  flags?: number;
  exemplars?: Exemplar[];
}

export const SCAN_SETS: Record<string, string | number | boolean>[] = [
  { host: 'h1', route: '/a' },
  { host: 'h2', route: '/a' },
  { host: 'h1', route: '/b' },
  { host: 'h2', route: '/b', code: 200 },
  {},
  { host: 'h3', route: '/a', ok: true, ratio: 0.5 },
];
export const SCAN_METRICS = [
  { name: 'm.sum', type: MetricType.Sum, temporality: Temporality.Cumulative, monotonic: true },
  { name: 'm.delta', type: MetricType.Sum, temporality: Temporality.Delta, monotonic: true },
  { name: 'm.gauge', type: MetricType.Gauge },
  { name: 'm.hist', type: MetricType.Histogram, temporality: Temporality.Cumulative },
  { name: 'm.dhist', type: MetricType.Histogram, temporality: Temporality.Delta },
  { name: 'other', type: MetricType.Sum, temporality: Temporality.Cumulative },
];

/** An OTLP request of `points`, all at `time`. */
export function scanRequest(points: PointSpec[], time: bigint): Uint8Array {
  const batch = new MetricBatch();
  const metrics = new Map<string, number>();
  for (const p of points) {
    const key = `${p.resource}/${p.metric}`;
    let m = metrics.get(key);
    if (m === undefined) {
      const r = batch.addResource({ attributes: { 'service.name': `svc${p.resource}` } });
      m = batch.addMetric(batch.addScope(r, { name: 'lib', version: '1' }), {
        ...SCAN_METRICS[p.metric],
        unit: 'ms',
      });
      metrics.set(key, m);
    }
    const series = batch.series(m, SCAN_SETS[p.set]);
    if (batch.metrics[m].type === MetricType.Histogram) {
      const counts = [p.value % 3, p.value % 5, p.value % 7, p.int ? 1 : 0];
      batch.addHistogramPoint(series, {
        startTime: 1n,
        time,
        count: counts.reduce((a, b) => a + b, 0),
        sum: p.value,
        min: p.int ? undefined : 0.5,
        max: p.value,
        bounds: p.otherBounds ? [1, 2, 3] : [1, 5, 10],
        bucketCounts: counts,
      });
    } else {
      batch.addNumberPoint(series, {
        startTime: 1n,
        time,
        value: p.int ? BigInt(p.value) : p.value + 0.25,
        flags: p.flags,
        exemplars: p.exemplars,
      });
    }
  }
  return encodeMetricsRequest(batch);
}
