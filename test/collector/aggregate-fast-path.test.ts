import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeMetricsRequest } from '../../src/codec/protobuf/encode-request.js';
import type { Collector } from '../../src/collector/collector.js';
import { MetricBatch, MetricType, Temporality } from '../../src/index.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';
import { startCollector } from '../helpers/collectors.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

let sink: OtlpSink;
let collector: Collector;

beforeEach(async () => {
  sink = new OtlpSink();
  await sink.start();
  collector = await startCollector(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
      grpc: { endpoint: 127.0.0.1:0 }
processors:
  aggregate:
    interval: 50ms
    rules:
      - metrics: ['http.server.*']
        drop_attributes: [host]
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    batch: { flush_interval: 10ms }
service:
  pipelines:
    metrics: { receivers: [otlp], processors: [aggregate], exporters: [otlphttp] }
`);
});

afterEach(async () => {
  await collector.shutdown(2_000);
  await sink.stop();
});

function receiver(): OtlpReceiver {
  return collector.receivers.get('otlp') as unknown as OtlpReceiver;
}

/**
 * Exports of a counter and a histogram on two hosts from the official SDK, three flushes and
 * shutdown's: the first brings new series (decoded), the others only known ones (scanned).
 */
async function exportThrice(exporter: PushMetricExporter): Promise<void> {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('app');
  const requests = meter.createCounter('http.server.requests');
  const duration = meter.createHistogram('http.server.duration', {
    unit: 'ms',
    advice: { explicitBucketBoundaries: [10, 100] },
  });
  for (let round = 1; round <= 3; round++) {
    for (const host of ['h1', 'h2']) {
      requests.add(round, { host, route: '/a' });
      duration.record(5 * round, { host, route: '/a' });
    }
    await reader.forceFlush();
  }
  await provider.shutdown();
}

/** The last value the sink got for each metric: sums' value, histograms' count, sum, buckets. */
async function latest(): Promise<Map<string, unknown>> {
  const found = new Map<string, unknown>();
  const until = Date.now() + 5_000;
  while (Date.now() < until) {
    for (const r of sink.accepted) {
      for (const m of r.request.resourceMetrics[0].scopeMetrics[0].metrics) {
        const h = m.histogram?.dataPoints[0];
        found.set(
          m.name,
          h
            ? { count: Number(h.count), sum: h.sum, buckets: h.bucketCounts.map(Number) }
            : m.sum.dataPoints[0].asDouble,
        );
      }
    }
    if ((found.get('http.server.requests') as number) >= 12) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return found;
}

const expected = new Map<string, unknown>([
  // 2 hosts × (1 + 2 + 3), merged into one route series.
  ['http.server.requests', 12],
  // Per host 5, 10 and 15 ms: two at or under 10, one in (10, 100].
  ['http.server.duration', { count: 6, sum: 60, buckets: [4, 2, 0] }],
]);

describe('otlp → aggregate takes known series without decoding (fast path)', () => {
  it('OTLP/HTTP protobuf from the official exporter', async () => {
    await exportThrice(new ProtoExporter({ url: `http://${receiver().http!.address}/v1/metrics` }));
    expect(await latest()).toEqual(expected);
    const stats = receiver().http!.stats;
    // Every export but the first (three flushes, then shutdown's) went the fast path.
    expect(stats.requests).toBe(4);
    expect(stats.scanned).toBe(3);
    expect(stats.accepted).toBe(4 * 4);
  });

  it('OTLP/gRPC from the official exporter', async () => {
    await exportThrice(new GrpcExporter({ url: `http://${receiver().grpc!.address}` }));
    expect(await latest()).toEqual(expected);
    const stats = receiver().grpc!.stats;
    // Every export but the first (three flushes, then shutdown's) went the fast path.
    expect(stats.requests).toBe(4);
    expect(stats.scanned).toBe(3);
    expect(stats.accepted).toBe(4 * 4);
  });
});

describe('the fast path through memory_limiter', () => {
  async function limitedCollector(limitMib: number): Promise<Collector> {
    return startCollector(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
processors:
  memory_limiter: { check_interval: 1s, limit_mib: ${limitMib}, spike_limit_mib: 0 }
  aggregate:
    interval: 50ms
    rules: [{ metrics: ['http.server.*'], drop_attributes: [host] }]
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [memory_limiter, aggregate]
      exporters: [otlphttp]
`);
  }

  it('passes it on under the limit', async () => {
    const limited = await limitedCollector(100_000);
    try {
      const otlp = limited.receivers.get('otlp') as unknown as OtlpReceiver;
      await exportThrice(new ProtoExporter({ url: `http://${otlp.http!.address}/v1/metrics` }));
      expect(otlp.http!.stats.scanned).toBe(3);
      const [limiter, aggregate] = limited.processors;
      expect(limiter.counts).toEqual({ in: 16, out: 16 });
      expect(aggregate.counts.in).toBe(16);
    } finally {
      await limited.shutdown(2_000);
    }
  });

  it('over the limit, refuses what it would have taken', async () => {
    const limited = await limitedCollector(1);
    try {
      const otlp = limited.receivers.get('otlp') as unknown as OtlpReceiver;
      const batch = new MetricBatch();
      const m = batch.addMetric(batch.addScope(batch.addResource()), {
        name: 'http.server.requests',
        type: MetricType.Sum,
        temporality: Temporality.Cumulative,
        monotonic: true,
      });
      batch.addNumberPoint(batch.series(m, { host: 'h1' }), { time: 10n, value: 1 });
      for (let k = 0; k < 2; k++) {
        const response = await fetch(`http://${otlp.http!.address}/v1/metrics`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf' },
          body: encodeMetricsRequest(batch),
        });
        expect(response.status).toBe(503);
      }
      expect(otlp.http!.stats.scanned).toBe(0);
      expect(otlp.http!.stats.refused).toEqual({ memory_limit: 2 });
    } finally {
      await limited.shutdown(2_000);
    }
  });
});
