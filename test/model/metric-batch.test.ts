import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DataPointFlags,
  decodeMetricsRequest,
  encodeMetricsRequest,
  InvalidMetricDataError,
  KeyValueList,
  MetricBatch,
  MetricType,
  Temporality,
} from '../../src/index.js';
import { RefRequest } from '../helpers/reference.js';

function newBatch() {
  const batch = new MetricBatch();
  const r = batch.addResource({ attributes: { 'service.name': 'api' }, schemaUrl: 'https://s/1' });
  const s = batch.addScope(r, { name: 'lib', version: '1.0' });
  return { batch, s };
}

describe('MetricBatch', () => {
  it('carries every point kind and reads it back through a PointView', () => {
    const { batch, s } = newBatch();
    const sum = batch.addMetric(s, {
      name: 'requests',
      type: MetricType.Sum,
      temporality: Temporality.Cumulative,
      monotonic: true,
      unit: '{request}',
    });
    const gauge = batch.addMetric(s, { name: 'temp', type: MetricType.Gauge });
    const hist = batch.addMetric(s, {
      name: 'latency',
      type: MetricType.Histogram,
      temporality: Temporality.Delta,
    });
    const exp = batch.addMetric(s, {
      name: 'latency.exp',
      type: MetricType.ExponentialHistogram,
      temporality: Temporality.Delta,
    });
    const summary = batch.addMetric(s, { name: 'legacy', type: MetricType.Summary });
    const traceId = Uint8Array.from({ length: 16 }, (_, k) => k);
    const spanId = Uint8Array.from({ length: 8 }, (_, k) => k + 100);

    batch.addNumberPoint(batch.series(sum, { route: '/a' }), {
      startTime: 1n,
      time: 2n,
      value: 2n ** 62n + 1n,
      exemplars: [{ filteredAttributes: [], time: 2n, value: 0.5, spanId, traceId }],
    });
    batch.addNumberPoint(batch.series(gauge, { big: 2n ** 63n - 1n }), {
      time: 18446744073709551615n,
      value: -0,
    });
    batch.addNumberPoint(batch.series(gauge, {}), {
      time: 3n,
      flags: DataPointFlags.NoRecordedValue,
    });
    batch.addHistogramPoint(batch.series(hist, { route: '/a' }), {
      time: 4n,
      count: 6,
      sum: 10.5,
      min: 0.5,
      max: 4,
      bounds: [1, 2],
      bucketCounts: [1, 2, 3],
    });
    batch.addExponentialHistogramPoint(batch.series(exp, { route: '/a' }), {
      time: 5n,
      count: 4n,
      scale: -3,
      zeroCount: 1,
      zeroThreshold: 1e-9,
      positive: { offset: -2, bucketCounts: [1n, 2n] },
    });
    batch.addSummaryPoint(
      batch.series(summary, { nested: new KeyValueList([{ key: 'k', value: [1n, 'x', null] }]) }),
      {
        time: 6n,
        count: 3,
        sum: 9,
        quantiles: [
          { quantile: 0.5, value: 2 },
          { quantile: 1, value: Number.POSITIVE_INFINITY },
        ],
      },
    );

    expect(batch.pointCount).toBe(6);
    const p = batch.point(0);
    expect(p.metric.name).toBe('requests');
    expect(p.exactValue).toBe(2n ** 62n + 1n);
    expect(p.isInt).toBe(true);
    expect(p.startTime).toBe(1n);
    expect(p.attributes).toEqual([{ key: 'route', value: '/a' }]);
    expect(p.exemplars[0].value).toBe(0.5);
    p.at(1);
    expect(Object.is(p.exactValue, -0)).toBe(true);
    expect(p.time).toBe(18446744073709551615n);
    expect(p.attributes[0].value).toBe(2n ** 63n - 1n);
    p.at(2);
    expect(p.hasValue).toBe(false);
    expect(p.flags).toBe(DataPointFlags.NoRecordedValue);
    p.at(3);
    expect([...p.bounds]).toEqual([1, 2]);
    expect([...p.bucketCounts]).toEqual([1n, 2n, 3n]);
    expect([p.count, p.sum, p.min, p.max]).toEqual([6n, 10.5, 0.5, 4]);
    p.at(4);
    expect(p.scale).toBe(-3);
    expect(p.zeroCount).toBe(1n);
    expect(p.zeroThreshold).toBe(1e-9);
    expect(p.positive).toEqual({ offset: -2, bucketCounts: BigUint64Array.from([1n, 2n]) });
    expect(p.negative).toBeUndefined();
    expect(p.sum).toBeUndefined();
    p.at(5);
    expect(p.quantiles).toEqual([
      { quantile: 0.5, value: 2 },
      { quantile: 1, value: Number.POSITIVE_INFINITY },
    ]);
    expect(p.sum).toBe(9);

    // Survives the wire: decode(encode(batch)) reads the same everywhere.
    const again = decodeMetricsRequest(encodeMetricsRequest(batch));
    expect(again.pointCount).toBe(6);
    const q = again.point(0);
    for (let i = 0; i < 6; i++) {
      p.at(i);
      q.at(i);
      expect(q.metric).toEqual(p.metric);
      expect(q.attributes).toEqual(p.attributes);
      expect([q.time, q.startTime, q.flags, q.bits]).toEqual([
        p.time,
        p.startTime,
        p.flags,
        p.bits,
      ]);
    }
  });

  it('interns attribute sets: equal sets share an id and a hash, order matters', () => {
    const { batch, s } = newBatch();
    const m = batch.addMetric(s, { name: 'c', type: MetricType.Sum });
    const a = batch.attributes.intern({ x: 'a', y: 1 });
    const b = batch.attributes.intern({ x: 'a', y: 1 });
    const c = batch.attributes.intern({ y: 1, x: 'a' });
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(batch.attributes.hash(a)).toBe(batch.attributes.hash(b));
    expect(batch.series(m, a)).toBe(batch.series(m, { x: 'a', y: 1 }));
    expect(batch.seriesCount).toBe(1);
    expect(batch.seriesHash(0)).toBe(batch.seriesHash(batch.series(m, a)));
  });

  it('refuses points that do not fit the metric, naming the metric', () => {
    const { batch, s } = newBatch();
    const m = batch.addMetric(s, { name: 'temp', type: MetricType.Gauge });
    const series = batch.series(m);
    expect(() =>
      batch.addHistogramPoint(series, { time: 1n, count: 1, bounds: [], bucketCounts: [1] }),
    ).toThrow(new InvalidMetricDataError('histogram point: metric "temp" has type gauge'));
    const h = batch.addMetric(s, { name: 'h', type: MetricType.Histogram });
    expect(() =>
      batch.addHistogramPoint(batch.series(h), {
        time: 1n,
        count: 1,
        bounds: [1, 2],
        bucketCounts: [1],
      }),
    ).toThrow(/1 bucket counts for 2 bounds/);
    expect(() => batch.addNumberPoint(99, { time: 1n, value: 1 })).toThrow(
      /series 99 does not exist/,
    );
    expect(() => batch.addScope(7)).toThrow(/resource 7 does not exist/);
  });

  it('grows its columns and keeps points in any order grouped per metric on the wire', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(3), fc.nat(20), fc.double({ noNaN: true })), { maxLength: 3000 }),
        (rows) => {
          const { batch, s } = newBatch();
          const metrics = [0, 1, 2, 3].map((k) =>
            batch.addMetric(s, { name: `m${k}`, type: MetricType.Gauge }),
          );
          const expected = new Map<string, number[]>();
          rows.forEach(([metric, series, value], k) => {
            batch.addNumberPoint(batch.series(metrics[metric], { series }), {
              time: BigInt(k + 1),
              value,
            });
            const key = `m${metric}`;
            expected.set(key, [...(expected.get(key) ?? []), value]);
          });
          const decoded = RefRequest.toObject(RefRequest.decode(encodeMetricsRequest(batch)), {
            defaults: true,
          });
          const got = new Map<string, number[]>();
          for (const metric of decoded.resourceMetrics[0].scopeMetrics[0].metrics) {
            const values = metric.gauge.dataPoints.map((d: { asDouble: number }) => d.asDouble);
            if (values.length) got.set(metric.name, values);
          }
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 50 },
    );
  });
});
