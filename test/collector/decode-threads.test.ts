import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
// The built collector: Node starts compiled worker threads only (the TypeScript sources
// have no decode-worker.js beside them, and decode on the main thread).
import { AdminServer } from '../../dist/collector/admin-server.js';
import { Collector } from '../../dist/collector/collector.js';
import { parseConfig } from '../../dist/collector/config/load-config.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

let collector: Collector | undefined;
let sink: OtlpSink | undefined;
let admin: AdminServer | undefined;
afterEach(async () => {
  await admin?.stop();
  await collector?.shutdown(2_000);
  await sink?.stop();
});

// 1,500 series (under the SDK's default cardinality limit of 2,000): a body of tens of KB,
// well over the size decoded on the main thread.
const SERIES = 1_500;

async function recordThrough(exporter: PushMetricExporter): Promise<void> {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'threads' }),
    readers: [reader],
  });
  const counter = provider.getMeter('app').createCounter('jobs.done');
  for (let i = 0; i < SERIES; i++) counter.add(i + 1, { id: String(i) });
  await provider.shutdown();
}

describe('service.decode_threads', () => {
  it('decodes the official exporters’ requests (proto, JSON, gRPC) on worker threads; every point arrives intact', async () => {
    sink = new OtlpSink();
    const sinkUrl = await sink.start();
    collector = new Collector(
      parseConfig(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
      grpc: { endpoint: 127.0.0.1:0 }
processors:
  # A processor that reads the points: without one the pipeline relays protobuf bodies
  # undecoded, and only the JSON requests would reach the threads.
  filter:
    metrics: { exclude: { match_type: strict, metric_names: [none] } }
exporters:
  otlphttp:
    metrics_endpoint: ${sinkUrl}
    batch: { flush_interval: 5ms }
service:
  decode_threads: 2
  pipelines:
    metrics: { receivers: [otlp], processors: [filter], exporters: [otlphttp] }
`),
      pino({ level: 'silent' }),
    );
    await collector.start();
    const receiver = collector.receivers.get('otlp') as unknown as {
      http: { address: string };
      grpc: { address: string };
    };
    const httpUrl = `http://${receiver.http.address}/v1/metrics`;
    const exporters = [
      new ProtoExporter({ url: httpUrl }),
      new JsonExporter({ url: httpUrl }),
      new GrpcExporter({ url: `http://${receiver.grpc.address}` }),
    ];
    for (const exporter of exporters) await recordThrough(exporter);
    expect(collector.decodePool.threads).toBe(2);
    expect(collector.decodePool.stats.onThreads).toBeGreaterThanOrEqual(exporters.length);

    const until = Date.now() + 10_000;
    const points = () => sink!.accepted.reduce((n, r) => n + r.points, 0);
    while (points() < SERIES * exporters.length && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // Every exporter's 1,500 points, each value where it belongs.
    const seen = new Map<string, number[]>();
    for (const { request } of sink.accepted) {
      for (const rm of request.resourceMetrics) {
        expect(rm.resource.attributes).toContainEqual({
          key: 'service.name',
          value: { stringValue: 'threads' },
        });
        for (const metric of rm.scopeMetrics[0].metrics) {
          for (const p of metric.sum.dataPoints) {
            const id = p.attributes[0].value.stringValue;
            seen.set(id, [...(seen.get(id) ?? []), p.asDouble]);
          }
        }
      }
    }
    expect(seen.size).toBe(SERIES);
    for (let i = 0; i < SERIES; i += 97) {
      expect(seen.get(String(i))).toEqual(Array(exporters.length).fill(i + 1));
    }

    // The admin server says where requests were decoded.
    const pool = collector.decodePool;
    admin = new AdminServer({ address: '127.0.0.1:0' }, () => collector!);
    await admin.start();
    const metrics = await (await fetch(`http://${admin.address}/metrics`)).text();
    expect(metrics).toContain('sluice_decode_threads 2\n');
    expect(metrics).toContain(
      `sluice_decoded_requests_total{thread="worker_thread"} ${pool.stats.onThreads}\n`,
    );
  });
});
