import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Collector } from '../../src/collector/collector.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/factory.js';
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
