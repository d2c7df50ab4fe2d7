import type { Attributes } from '@opentelemetry/api';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
// The built collector: Node starts compiled worker threads only (the TypeScript sources
// have no decode-worker.js beside them, and decode on the main thread).
import { AdminServer } from '../../dist/collector/admin-server.js';
import { Collector } from '../../dist/collector/collector.js';
import { parseConfig } from '../../dist/collector/config/load-config.js';
import { recordWithSdk } from '../helpers/collectors.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

let collector: Collector | undefined;
let sink: OtlpSink | undefined;
let admin: AdminServer | undefined;
afterEach(async () => {
  await admin?.stop();
  await collector?.shutdown(2_000);
  await sink?.stop();
});

describe('service.decode_threads', () => {
  it('decodes the official exporter’s requests on worker threads; every point arrives intact', async () => {
    sink = new OtlpSink();
    const sinkUrl = await sink.start();
    collector = new Collector(
      parseConfig(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
exporters:
  otlphttp:
    metrics_endpoint: ${sinkUrl}
    batch: { flush_interval: 5ms }
service:
  decode_threads: 2
  pipelines:
    metrics: { receivers: [otlp], exporters: [otlphttp] }
`),
      pino({ level: 'silent' }),
    );
    await collector.start();
    const receiver = collector.receivers.get('otlp') as unknown as { http: { address: string } };
    // 1,500 series (under the SDK's default cardinality limit of 2,000): a ~60 KB body, well
    // over the size decoded on the main thread.
    const series = 1_500;
    await recordWithSdk(
      `http://${receiver.http.address}/v1/metrics`,
      { 'service.name': 'threads' },
      (meter) => {
        const counter = meter.createCounter('jobs.done');
        for (let i = 0; i < series; i++) counter.add(i + 1, { id: String(i) } as Attributes);
      },
    );
    expect(collector.decodePool.threads).toBe(2);
    expect(collector.decodePool.stats.onThreads).toBeGreaterThanOrEqual(1);
    const until = Date.now() + 10_000;
    const points = () => sink!.accepted.reduce((n, r) => n + r.points, 0);
    while (points() < series && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const values = new Map<string, number>();
    for (const { request } of sink.accepted) {
      for (const rm of request.resourceMetrics) {
        expect(rm.resource.attributes).toContainEqual({
          key: 'service.name',
          value: { stringValue: 'threads' },
        });
        for (const metric of rm.scopeMetrics[0].metrics) {
          for (const p of metric.sum.dataPoints)
            values.set(p.attributes[0].value.stringValue, p.asDouble);
        }
      }
    }
    expect(values.size).toBe(series);
    for (let i = 0; i < series; i += 97) expect(values.get(String(i))).toBe(i + 1);
    // The admin server says where requests were decoded.
    const pool = collector.decodePool;
    admin = new AdminServer('127.0.0.1:0', () => collector!);
    await admin.start();
    const metrics = await (await fetch(`http://${admin.address}/metrics`)).text();
    expect(metrics).toContain('sluice_decode_threads 2\n');
    expect(metrics).toContain(
      `sluice_decoded_requests_total{thread="worker_thread"} ${pool.stats.onThreads}\n`,
    );
  });
});
