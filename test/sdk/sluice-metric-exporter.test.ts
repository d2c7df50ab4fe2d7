import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import {
  AggregationTemporality,
  InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  ShutdownError,
  SluiceError,
  SluiceMetricExporter,
  type SluiceMetricExporterOptions,
} from '../../src/index.js';
import { readOtlpEnvironment } from '../../src/sdk/env.js';
import { GrpcSink } from '../helpers/grpc-sink.js';
import { OtlpSink } from '../helpers/otlp-sink.js';
import { canonicalJson, RefRequest } from '../helpers/reference.js';
import { collectSdkMetrics } from '../helpers/sdk-data.js';

const quiet = pino({ level: 'silent' });
let sink: OtlpSink;
const cleanup: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  sink = new OtlpSink();
  await sink.start();
});
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  await sink.stop();
});

function exporter(options: SluiceMetricExporterOptions = {}): SluiceMetricExporter {
  const created = new SluiceMetricExporter({
    url: sink.url,
    logger: quiet,
    batch: { flushIntervalMs: 10 },
    ...options,
  });
  cleanup.push(() => created.shutdown());
  return created;
}

function exportOnce(
  e: { export: SluiceMetricExporter['export'] },
  rm: Parameters<SluiceMetricExporter['export']>[0],
) {
  return new Promise<{ code: number; error?: Error }>((resolve) => e.export(rm, resolve));
}

describe('SluiceMetricExporter with @opentelemetry/sdk-metrics', () => {
  it('ships what a MeterProvider records, visible at the backend after forceFlush', async () => {
    const e = exporter();
    const reader = new PeriodicExportingMetricReader({ exporter: e, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ readers: [reader] });
    cleanup.push(() => provider.shutdown());
    const meter = provider.getMeter('app');
    const counter = meter.createCounter('orders', { unit: '{order}' });
    const histogram = meter.createHistogram('latency', { unit: 'ms' });
    counter.add(3, { region: 'eu' });
    counter.add(4, { region: 'eu' });
    histogram.record(12, { region: 'eu' });
    histogram.record(30, { region: 'eu' });
    await reader.forceFlush();
    const metrics = sink.accepted.flatMap(
      (r) => r.request.resourceMetrics[0].scopeMetrics[0].metrics,
    );
    const orders = metrics.find((m: any) => m.name === 'orders');
    expect(orders.sum.dataPoints[0].asDouble).toBe(7);
    expect(orders.sum.isMonotonic).toBe(true);
    const latency = metrics.find((m: any) => m.name === 'latency');
    expect(latency.histogram.dataPoints[0].count).toBe('2');
    expect(latency.histogram.dataPoints[0].sum).toBe(42);
    expect(e.stats.sent).toBe(2);
  });

  it('sends the same request as the official OTLPMetricExporter for the same data', async () => {
    const rm = await collectSdkMetrics({ series: 20, exponential: true });
    const ours = exporter();
    expect((await exportOnce(ours, rm)).code).toBe(0);
    await ours.forceFlush();
    const official = new OTLPMetricExporter({ url: sink.url });
    cleanup.push(() => official.shutdown());
    expect((await exportOnce(official, rm)).code).toBe(0);
    expect(sink.accepted).toHaveLength(2);
    const canonical = (r: any) =>
      canonicalJson(
        RefRequest.toObject(RefRequest.fromObject(r.request), { longs: String, defaults: true }),
      );
    expect(canonical(sink.accepted[0])).toBe(canonical(sink.accepted[1]));
  });

  it('reuses batch memory across exports without mixing their data', async () => {
    sink.reply = () => ({ delayMs: 5 });
    const e = exporter({ batch: { maxPoints: 16, flushIntervalMs: 2 }, numConsumers: 2 });
    const reader = new PeriodicExportingMetricReader({ exporter: e, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ readers: [reader] });
    cleanup.push(() => provider.shutdown());
    const counter = provider.getMeter('app').createCounter('ticks');
    const rounds = 15;
    for (let round = 1; round <= rounds; round++) {
      for (let k = 0; k < 50; k++) counter.add(1, { id: `s${k}` });
      await reader.forceFlush();
    }
    // Group what arrived by collection time: each collection has all 50 series at its round.
    const byTime = new Map<string, Map<string, number>>();
    for (const request of sink.accepted) {
      for (const metric of request.request.resourceMetrics[0].scopeMetrics[0].metrics) {
        for (const point of metric.sum.dataPoints) {
          const id = point.attributes.find((a: any) => a.key === 'id').value.stringValue;
          const group = byTime.get(point.timeUnixNano) ?? new Map();
          expect(group.has(id)).toBe(false);
          group.set(id, point.asDouble);
          byTime.set(point.timeUnixNano, group);
        }
      }
    }
    expect(byTime.size).toBe(rounds);
    const collections = [...byTime.entries()].sort((a, b) =>
      BigInt(a[0]) < BigInt(b[0]) ? -1 : 1,
    );
    collections.forEach(([, group], index) => {
      expect(group.size).toBe(50);
      expect(new Set(group.values())).toEqual(new Set([index + 1]));
    });
    expect(e.stats.sent).toBe(rounds * 50);
  });

  it('forceFlush waits until a slow backend has the data', async () => {
    sink.reply = () => ({ delayMs: 300 });
    const e = exporter();
    const rm = await collectSdkMetrics({ series: 5 });
    expect((await exportOnce(e, rm)).code).toBe(0);
    expect(sink.accepted).toHaveLength(0); // export() returned before the send
    await e.forceFlush();
    expect(sink.accepted).toHaveLength(1);
  });

  it('reports FAILED to the SDK when the queue refuses, and after shutdown', async () => {
    const e = exporter({ queue: { maxPoints: 10 } });
    const rm = await collectSdkMetrics({ series: 5 }); // 30 points
    const refused = await exportOnce(e, rm);
    expect(refused.code).toBe(1);
    expect(refused.error?.message).toMatch(/exceeds the whole queue/);
    await e.shutdown();
    const late = await exportOnce(e, await collectSdkMetrics({ series: 1 }));
    expect(late.code).toBe(1);
    expect(late.error).toBeInstanceOf(ShutdownError);
  });

  it('speaks OTLP/JSON with gzip when asked', async () => {
    const e = exporter({
      protocol: 'http/json',
      compression: 'gzip',
      headers: { 'x-team': 'metrics' },
    });
    await exportOnce(e, await collectSdkMetrics({ series: 3 }));
    await e.forceFlush();
    const [request] = sink.accepted;
    expect(request.contentType).toBe('application/json');
    expect(request.contentEncoding).toBe('gzip');
    expect(request.headers['x-team']).toBe('metrics');
    expect(request.points).toBe(18);
  });

  it('compresses with zstd', async () => {
    const e = exporter({ compression: 'zstd' });
    await exportOnce(e, await collectSdkMetrics({ series: 3 }));
    await e.forceFlush();
    expect(sink.accepted[0].contentEncoding).toBe('zstd');
    expect(sink.accepted[0].points).toBe(18);
    expect(() => exporter({ protocol: 'grpc', compression: 'zstd' })).toThrow(
      /zstd is for OTLP\/HTTP/,
    );
  });

  it('speaks OTLP/gRPC when asked', async () => {
    const grpc = new GrpcSink();
    const endpoint = await grpc.start();
    cleanup.push(() => grpc.stop());
    const e = exporter({ protocol: 'grpc', url: endpoint, compression: 'gzip' });
    expect((await exportOnce(e, await collectSdkMetrics({ series: 4 }))).code).toBe(0);
    await e.forceFlush();
    expect(grpc.requests).toBe(1);
    expect(e.stats.sent).toBe(24);
  });

  it('reads the OTEL_EXPORTER_OTLP_* environment like the official exporters', () => {
    expect(
      readOtlpEnvironment({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
        OTEL_EXPORTER_OTLP_HEADERS: 'api-key=a%20b,tenant=t1',
        OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '2500',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'Delta',
      }),
    ).toEqual({
      url: 'http://collector:4318/v1/metrics',
      grpcEndpoint: 'http://collector:4318/',
      headers: { 'api-key': 'a b', tenant: 't1' },
      timeoutMillis: 2500,
      compression: 'gzip',
      temporalityPreference: 'delta',
    });
    expect(
      readOtlpEnvironment({
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m:9/custom',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x',
      }).url,
    ).toBe('http://m:9/custom');
  });

  it('uses the environment when options are absent', async () => {
    const saved = { ...process.env };
    process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = sink.url;
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'authorization=Bearer%20t0ken';
    try {
      const e = new SluiceMetricExporter({ logger: quiet, batch: { flushIntervalMs: 10 } });
      cleanup.push(() => e.shutdown());
      await exportOnce(e, await collectSdkMetrics({ series: 1 }));
      await e.forceFlush();
      expect(sink.accepted[0].headers.authorization).toBe('Bearer t0ken');
    } finally {
      process.env = saved;
    }
  });

  it('selects temporality like the official exporters', () => {
    const delta = exporter({ temporalityPreference: 'delta' });
    const lowMemory = exporter({ temporalityPreference: 'lowmemory' });
    const cumulative = exporter();
    expect(delta.selectAggregationTemporality(InstrumentType.COUNTER)).toBe(
      AggregationTemporality.DELTA,
    );
    expect(delta.selectAggregationTemporality(InstrumentType.UP_DOWN_COUNTER)).toBe(
      AggregationTemporality.CUMULATIVE,
    );
    expect(lowMemory.selectAggregationTemporality(InstrumentType.HISTOGRAM)).toBe(
      AggregationTemporality.DELTA,
    );
    expect(lowMemory.selectAggregationTemporality(InstrumentType.OBSERVABLE_COUNTER)).toBe(
      AggregationTemporality.CUMULATIVE,
    );
    expect(cumulative.selectAggregationTemporality(InstrumentType.COUNTER)).toBe(
      AggregationTemporality.CUMULATIVE,
    );
  });

  it('refuses bad options with an invalid-argument error naming the option, the value and what is allowed', () => {
    const refusal = (options: SluiceMetricExporterOptions) => {
      try {
        new SluiceMetricExporter({ ...options, logger: quiet });
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidArgumentError);
        expect(err).toBeInstanceOf(SluiceError);
        return err as InvalidArgumentError;
      }
      throw new Error('accepted');
    };
    expect(refusal({ url: 'not a url' })).toMatchObject({
      code: 'SLUICE_ERR_INVALID_ARGUMENT',
      option: 'url',
      value: 'not a url',
      message: 'url: expected a URL, e.g. http://127.0.0.1:4318/v1/metrics, got "not a url"',
    });
    expect(refusal({ compression: 'brotli' as never })).toMatchObject({
      option: 'compression',
      value: 'brotli',
      allowed: 'none, gzip or zstd',
    });
    expect(refusal({ numConsumers: 0 }).message).toBe(
      'numConsumers: expected a whole number ≥ 1, got 0',
    );
    expect(refusal({ protocol: 'grpc', compression: 'zstd' }).message).toMatch(
      /^compression: expected none or gzip with protocol grpc .*, got "zstd"$/,
    );
  });
});
