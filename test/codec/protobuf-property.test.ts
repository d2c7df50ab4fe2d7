import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMetricsRequest,
  encodeMetricsRequest,
  MetricBatch,
  MetricsRequestEncoder,
  MetricType,
} from '../../src/index.js';
import { BatchCopier } from '../../src/model/batch-copier.js';
import { metricsRequest } from '../helpers/arbitraries.js';
import { firstDifference, refCanonical, refEncode } from '../helpers/reference.js';

describe('OTLP protobuf property tests', () => {
  it('reference encode of any request → our decode → our encode → reference decode is unchanged', () => {
    fc.assert(
      fc.property(metricsRequest, (request) => {
        const original = refEncode(request);
        const ours = encodeMetricsRequest(decodeMetricsRequest(original));
        expect(firstDifference(refCanonical(ours), refCanonical(original)) ?? 'same').toBe('same');
      }),
      { numRuns: 300 },
    );
  });

  it('our encoding is canonical: encoding our own decode of it gives the same bytes', () => {
    fc.assert(
      fc.property(metricsRequest, (request) => {
        const once = encodeMetricsRequest(decodeMetricsRequest(refEncode(request)));
        const twice = encodeMetricsRequest(decodeMetricsRequest(once));
        expect(Buffer.from(twice).equals(Buffer.from(once))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('encoding the points of one partition (PointPick)', () => {
  it('writes what a copy of those points alone would, and nothing of what has none (property)', () => {
    fc.assert(
      fc.property(
        metricsRequest,
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 64 }),
        (request, pattern) => {
          const batch = decodeMetricsRequest(refEncode(request));
          const groups = Array.from(
            { length: batch.pointCount },
            (_, i) => pattern[i % pattern.length],
          );
          let points = 0;
          for (let group = 0; group <= 2; group++) {
            const picked = encodeMetricsRequest(batch, { groups, group });
            const copier = new BatchCopier();
            copier.append(batch, 0, batch.pointCount, { keep: (i) => groups[i] === group });
            const copied = copier.target;
            if (copied.pointCount === 0) {
              expect(picked.length).toBe(0);
              continue;
            }
            const expected = encodeMetricsRequest(copied);
            expect(firstDifference(refCanonical(picked), refCanonical(expected)) ?? 'same').toBe(
              'same',
            );
            points += decodeMetricsRequest(picked).pointCount;
          }
          expect(points).toBe(batch.pointCount);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('reusing memory', () => {
  it('MetricsRequestEncoder gives the same bytes as encodeMetricsRequest, call after call', () => {
    const encoder = new MetricsRequestEncoder();
    fc.assert(
      fc.property(metricsRequest, (request) => {
        const batch = decodeMetricsRequest(refEncode(request));
        const fresh = encodeMetricsRequest(batch);
        expect(Buffer.from(encoder.encode(batch)).equals(Buffer.from(fresh))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('decoding into a cleared batch gives the same batch as decoding into a new one', () => {
    fc.assert(
      fc.property(metricsRequest, metricsRequest, (previous, request) => {
        const recycled = decodeMetricsRequest(refEncode(previous));
        const bytes = refEncode(request);
        const fresh = encodeMetricsRequest(decodeMetricsRequest(bytes));
        const again = encodeMetricsRequest(decodeMetricsRequest(bytes, recycled.clear()));
        expect(Buffer.from(again).equals(Buffer.from(fresh))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a cleared batch forgets fields the next points leave at their defaults', () => {
    const full = new MetricBatch();
    const scope = full.addScope(full.addResource());
    const gauge = full.addMetric(scope, { name: 'g', type: MetricType.Gauge });
    const exp = full.addMetric(scope, { name: 'e', type: MetricType.ExponentialHistogram });
    full.addNumberPoint(full.series(gauge, { a: 1 }), { startTime: 77n, time: 3n, value: 1 });
    full.addExponentialHistogramPoint(full.series(exp), {
      startTime: 5n,
      time: 6n,
      count: 3,
      scale: 4,
      zeroCount: 2,
      zeroThreshold: 0.5,
      positive: { offset: 3, bucketCounts: [1] },
      negative: { offset: -3, bucketCounts: [1] },
    });
    const sparse = new MetricBatch();
    const scope2 = sparse.addScope(sparse.addResource());
    const gauge2 = sparse.addMetric(scope2, { name: 'g', type: MetricType.Gauge });
    const exp2 = sparse.addMetric(scope2, { name: 'e', type: MetricType.ExponentialHistogram });
    sparse.addNumberPoint(sparse.series(gauge2), { time: 3n });
    sparse.addExponentialHistogramPoint(sparse.series(exp2), {
      time: 6n,
      count: 0,
      scale: 0,
      zeroCount: 0,
      positive: { offset: 0, bucketCounts: [] },
    });
    const recycled = decodeMetricsRequest(encodeMetricsRequest(full));
    const again = decodeMetricsRequest(encodeMetricsRequest(sparse), recycled.clear());
    expect(
      Buffer.from(encodeMetricsRequest(again)).equals(Buffer.from(encodeMetricsRequest(sparse))),
    ).toBe(true);
    expect(again.point(0).startTime).toBe(0n);
    expect(again.point(1).scale).toBe(0);
  });
});
