import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { AggregationTemporality } from '@opentelemetry/sdk-metrics';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { writeHrTime } from '../../src/codec/sdk/hr-time.js';
import {
  decodeMetricsRequest,
  encodeFlatJsonLines,
  encodeMetricsRequest,
  fromResourceMetrics,
  MetricBatch,
  MetricType,
  ResourceMetricsConverter,
  toResourceMetrics,
} from '../../src/index.js';
import { firstDifference, refCanonical } from '../helpers/reference.js';
import { collectSdkMetrics } from '../helpers/sdk-data.js';

const same = (a: Uint8Array, b: Uint8Array) =>
  firstDifference(refCanonical(a), refCanonical(b)) ?? 'same';

describe('SDK ResourceMetrics', () => {
  for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
    for (const exponential of [false, true]) {
      it(`fromResourceMetrics + encode equals the official serializer (${temporality === 0 ? 'delta' : 'cumulative'}, ${exponential ? 'exponential' : 'explicit'} histograms)`, async () => {
        const rm = await collectSdkMetrics({ series: 25, temporality, exponential });
        const batch = fromResourceMetrics(rm);
        expect(batch.pointCount).toBe(25 * 6);
        expect(batch.seriesCount).toBe(25 * 6);
        expect(batch.attributes.count).toBe(25);
        expect(
          same(encodeMetricsRequest(batch), ProtobufMetricsSerializer.serializeRequest(rm)!),
        ).toBe('same');
      });
    }
  }

  it('a converter reused across collections gives the same bytes as a fresh one', async () => {
    const converter = new ResourceMetricsConverter();
    const rm = await collectSdkMetrics({ series: 10 });
    const first = encodeMetricsRequest(converter.convert(rm));
    const second = encodeMetricsRequest(converter.convert(rm));
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
    expect(
      Buffer.from(encodeMetricsRequest(new ResourceMetricsConverter().convert(rm))).equals(
        Buffer.from(first),
      ),
    ).toBe(true);
  });

  it('toResourceMetrics feeds the official serializer the same data back', async () => {
    const rm = await collectSdkMetrics({ series: 15, exponential: true });
    const official = ProtobufMetricsSerializer.serializeRequest(rm)!;
    const batch = decodeMetricsRequest(official);
    const { resourceMetrics, skippedPoints } = toResourceMetrics(batch);
    expect(skippedPoints).toBe(0);
    expect(resourceMetrics).toHaveLength(1);
    expect(same(ProtobufMetricsSerializer.serializeRequest(resourceMetrics[0])!, official)).toBe(
      'same',
    );
  });

  it('toResourceMetrics reports summaries it cannot carry', () => {
    const batch = new MetricBatch();
    const s = batch.addScope(batch.addResource());
    const m = batch.addMetric(s, { name: 'rpc.latency', type: MetricType.Summary });
    batch.addSummaryPoint(batch.series(m, { a: 1 }), {
      time: 1n,
      count: 2,
      sum: 3,
      quantiles: [{ quantile: 0.5, value: 1 }],
    });
    const result = toResourceMetrics(batch);
    expect(result.skippedPoints).toBe(1);
    expect(result.resourceMetrics[0].scopeMetrics[0].metrics).toHaveLength(0);
  });

  it('HrTime → nanoseconds is exact for every second and nanosecond', () => {
    const words = new Uint32Array(2);
    const big = new BigUint64Array(words.buffer);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 0, max: 999_999_999 }),
        (s, ns) => {
          writeHrTime(words, 0, [s, ns]);
          expect(big[0]).toBe(BigInt(s) * 1_000_000_000n + BigInt(ns));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('ResourceMetricsConverter.convertInChunks', () => {
  it('gives the same points as convert, in batches of at most maxPoints', async () => {
    const rm = await collectSdkMetrics({ series: 40, exponential: true });
    const whole = encodeFlatJsonLines(new ResourceMetricsConverter().convert(rm));
    for (const maxPoints of [1, 7, 40, 1000]) {
      const chunks: MetricBatch[] = [];
      await new ResourceMetricsConverter().convertInChunks(rm, {
        maxPoints,
        onBatch: (b) => void chunks.push(b),
      });
      expect(chunks.every((b) => b.pointCount <= maxPoints)).toBe(true);
      expect(chunks.map(encodeFlatJsonLines).join('')).toBe(whole);
      for (const chunk of chunks) refCanonical(encodeMetricsRequest(chunk));
    }
  });

  it('yields to the event loop while it works', async () => {
    const rm = await collectSdkMetrics({ series: 200 });
    // Another task that runs whenever the event loop gets a turn.
    let turns = 0;
    let running = true;
    const spin = () => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    let batches = 0;
    await new ResourceMetricsConverter().convertInChunks(rm, {
      maxPoints: 50,
      pace: () => new Promise((resolve) => setImmediate(resolve)),
      onBatch: () => {
        batches++;
      },
    });
    running = false;
    expect(batches).toBe(24); // 1200 points
    expect(turns).toBeGreaterThan(20);
  });
});
