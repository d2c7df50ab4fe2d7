import { type Attributes, ValueType } from '@opentelemetry/api';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatRequests, type EncodedRequest } from '../../src/codec/protobuf/encoded-request.js';
import { SdkRequestEncoder } from '../../src/codec/sdk/sdk-request-encoder.js';
import {
  decodeMetricsRequest,
  encodeFlatJsonLines,
  encodeMetricsRequest,
  ResourceMetricsConverter,
} from '../../src/index.js';
import { firstDifference, refCanonical } from '../helpers/reference.js';
import { collectSdkMetrics } from '../helpers/sdk-data.js';

const same = (a: Uint8Array, b: Uint8Array) =>
  firstDifference(refCanonical(a), refCanonical(b)) ?? 'same';

async function encodeAll(
  rm: ResourceMetrics,
  limits: { maxPoints?: number; maxBytes?: number } = {},
  encoder = new SdkRequestEncoder(),
): Promise<EncodedRequest[]> {
  const requests: EncodedRequest[] = [];
  await encoder.encode(rm, {
    maxPoints: limits.maxPoints ?? 1_000_000,
    maxBytes: limits.maxBytes ?? 64 * 1024 * 1024,
    onRequest: (request) => {
      // The encoder may reuse nothing it handed over: keep a copy to be sure it does not.
      requests.push({ ...request, bytes: request.bytes.slice() });
    },
  });
  return requests;
}

describe('SdkRequestEncoder', () => {
  for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
    for (const exponential of [false, true]) {
      it(`writes what the official serializer writes (${temporality === 0 ? 'delta' : 'cumulative'}, ${exponential ? 'exponential' : 'explicit'} histograms)`, async () => {
        const rm = await collectSdkMetrics({ series: 25, temporality, exponential });
        const [request, ...more] = await encodeAll(rm);
        expect(more).toHaveLength(0);
        expect(request.points).toBe(25 * 6);
        // Read with the reference protobuf definitions: the five-byte wrapper lengths too.
        expect(same(request.bytes, ProtobufMetricsSerializer.serializeRequest(rm)!)).toBe('same');
        expect(decodeMetricsRequest(request.bytes).pointCount).toBe(25 * 6);
      });
    }
  }

  it('writes into plain Uint8Arrays of its own, like the ones a pool hands back', async () => {
    // A Buffer is a subclass with another hidden class: meeting both deoptimized the writer.
    const rm = await collectSdkMetrics({ series: 300 });
    const kinds = new Set<object>();
    await new SdkRequestEncoder().encode(rm, {
      maxPoints: 100,
      maxBytes: 64 * 1024 * 1024,
      onRequest: (request) => {
        kinds.add(Object.getPrototypeOf(request.bytes));
      },
    });
    expect([...kinds].map((kind) => kind === Uint8Array.prototype)).toEqual([true]);
  });

  it('cuts requests at maxPoints and maxBytes, every point once and in order', async () => {
    const rm = await collectSdkMetrics({ series: 40, exponential: true });
    const whole = encodeFlatJsonLines(new ResourceMetricsConverter().convert(rm));
    for (const [maxPoints, maxBytes] of [
      [1, 1 << 20],
      [7, 1 << 20],
      [1000, 2048],
      [1000, 300],
    ]) {
      const requests = await encodeAll(rm, { maxPoints, maxBytes });
      expect(requests.length).toBeGreaterThan(1);
      for (const request of requests) {
        expect(request.points).toBeLessThanOrEqual(maxPoints);
        // Over the limit only when one point alone is larger.
        if (request.points > 1) expect(request.bytes.length).toBeLessThanOrEqual(maxBytes);
        const batch = decodeMetricsRequest(request.bytes);
        expect(batch.pointCount).toBe(request.points);
        refCanonical(request.bytes);
      }
      const lines = requests.map((r) => encodeFlatJsonLines(decodeMetricsRequest(r.bytes)));
      expect(lines.join('')).toBe(whole);
      const joined = concatRequests(requests);
      expect(joined.points).toBe(240);
      expect(encodeFlatJsonLines(decodeMetricsRequest(joined.bytes))).toBe(whole);
    }
  });

  it('gives every series one key, the same at every export; none to delta points', async () => {
    const encoder = new SdkRequestEncoder();
    const cumulative = await collectSdkMetrics({ series: 30 });
    const [first] = await encodeAll(cumulative, {}, encoder);
    const [second] = await encodeAll(cumulative, {}, encoder);
    expect(first.seriesKeys).toHaveLength(180);
    expect(new Set(first.seriesKeys).size).toBe(180);
    expect([...second.seriesKeys!]).toEqual([...first.seriesKeys!]);
    const delta = await collectSdkMetrics({
      series: 30,
      temporality: AggregationTemporality.DELTA,
    });
    const [request] = await encodeAll(delta);
    // Only the gauge's points (no temporality) must keep their order.
    expect(request.seriesKeys).toHaveLength(30);
  });

  it('follows start times that change between collections (delta: every collection)', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const counter = provider.getMeter('m').createCounter('c');
    const histogram = provider.getMeter('m').createHistogram('h');
    const encoder = new SdkRequestEncoder();
    for (let round = 0; round < 3; round++) {
      for (let s = 0; s < 20; s++) {
        counter.add(s + round, { s });
        histogram.record(s * round, { s });
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
      await reader.forceFlush();
      const rm = exporter.getMetrics().at(-1)!;
      const [request] = await encodeAll(rm, {}, encoder);
      expect(same(request.bytes, ProtobufMetricsSerializer.serializeRequest(rm)!)).toBe('same');
    }
    await provider.shutdown();
  });

  it('runs overlapping calls one after the other', async () => {
    const a = await collectSdkMetrics({ series: 30 });
    const b = await collectSdkMetrics({ series: 20, exponential: true });
    const alone = [
      ...(await encodeAll(a, { maxPoints: 50 })),
      ...(await encodeAll(b, { maxPoints: 50 })),
    ];
    const encoder = new SdkRequestEncoder();
    const requests: EncodedRequest[] = [];
    const options = {
      maxPoints: 50,
      maxBytes: 1 << 20,
      // Every request waits a turn, so the two calls would interleave if they could.
      onRequest: async (request: EncodedRequest) => {
        requests.push({ ...request, bytes: request.bytes.slice() });
        await new Promise((resolve) => setImmediate(resolve));
      },
    };
    await Promise.all([encoder.encode(a, options), encoder.encode(b, options)]);
    expect(requests.map((r) => Buffer.from(r.bytes).toString('hex'))).toEqual(
      alone.map((r) => Buffer.from(r.bytes).toString('hex')),
    );
  });

  it('matches the batch path on random instruments, values and attributes', async () => {
    const attributeValue = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.integer(),
      fc.double({ noNaN: true }),
      fc.boolean(),
      fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
    );
    const attributes = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), attributeValue, {
      maxKeys: 4,
    });
    const recording = fc.record({
      attributes,
      double: fc.double({ min: -1e12, max: 1e12, noNaN: true }),
      int: fc.integer({ min: 0, max: 2 ** 52 }),
      // Zeros land in an exponential histogram's zero bucket.
      samples: fc.array(fc.oneof(fc.constant(0), fc.double({ min: -1e6, max: 1e9, noNaN: true })), {
        maxLength: 6,
      }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(recording, { minLength: 1, maxLength: 12 }),
        fc.array(fc.double({ min: -1e3, max: 1e6, noNaN: true }), { maxLength: 5 }),
        fc.constantFrom(AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA),
        fc.integer({ min: 1, max: 9 }),
        async (recordings, bounds, temporality, maxPoints) => {
          const rm = await record(
            recordings,
            [...new Set(bounds)].sort((a, b) => a - b),
            temporality,
          );
          const batch = new ResourceMetricsConverter().convert(rm);
          const [whole] = await encodeAll(rm);
          expect(same(whole.bytes, encodeMetricsRequest(batch))).toBe('same');
          const joined = concatRequests(await encodeAll(rm, { maxPoints }));
          expect(encodeFlatJsonLines(decodeMetricsRequest(joined.bytes))).toBe(
            encodeFlatJsonLines(batch),
          );
        },
      ),
      { numRuns: 40 },
    );
  });
});

/** One collection of every instrument kind, from `recordings` (each one series). */
async function record(
  recordings: { attributes: Attributes; double: number; int: number; samples: number[] }[],
  bounds: number[],
  temporality: AggregationTemporality,
): Promise<ResourceMetrics> {
  const exporter = new InMemoryMetricExporter(temporality);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'property' }),
    readers: [reader],
    views: [
      { instrumentName: 'exp', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } },
    ],
  });
  const meter = provider.getMeter('property', '0.1');
  const counter = meter.createCounter('counter');
  const intCounter = meter.createCounter('int.counter', { valueType: ValueType.INT });
  const upDown = meter.createUpDownCounter('up.down', { valueType: ValueType.INT });
  const gauge = meter.createGauge('gauge', { description: 'a gauge', unit: '1' });
  const histogram = meter.createHistogram('histogram', {
    advice: { explicitBucketBoundaries: bounds },
  });
  const exp = meter.createHistogram('exp');
  for (const r of recordings) {
    counter.add(Math.abs(r.double), r.attributes);
    intCounter.add(r.int, r.attributes);
    upDown.add(-r.int, r.attributes);
    gauge.record(r.double, r.attributes);
    for (const sample of r.samples) {
      histogram.record(sample, r.attributes);
      exp.record(sample, r.attributes);
    }
  }
  await reader.forceFlush();
  const collected = exporter.getMetrics();
  await provider.shutdown();
  return collected[collected.length - 1];
}
