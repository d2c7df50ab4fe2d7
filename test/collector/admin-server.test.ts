import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminServer } from '../../src/collector/admin-server.js';
import { Collector } from '../../src/collector/collector.js';
import { parseConfig } from '../../src/collector/config/load-config.js';
import { encodeMetricsRequest, MetricBatch } from '../../src/index.js';
import { MetricType, Temporality } from '../../src/model/types.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/factory.js';

let collector: Collector | undefined;
let admin: AdminServer | undefined;

afterEach(async () => {
  await admin?.stop();
  await collector?.shutdown(200);
});

/** A delta counter with one point for each series named. */
function deltaCounter(...series: string[]): MetricBatch {
  const batch = new MetricBatch();
  const scope = batch.addScope(batch.addResource());
  const metric = batch.addMetric(scope, {
    name: 'requests',
    type: MetricType.Sum,
    temporality: Temporality.Delta,
    monotonic: true,
  });
  for (const s of series) {
    batch.addNumberPoint(batch.series(metric, { s }), { startTime: 1n, time: 2n, value: 1 });
  }
  return batch;
}

describe('admin /metrics', () => {
  it('reports what a processor dropped, by processor and reason', async () => {
    collector = new Collector(
      parseConfig(`
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  deltatocumulative:
    max_streams: 1
exporters:
  debug: {}
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [deltatocumulative]
      exporters: [debug]
`),
      pino({ level: 'silent' }),
    );
    await collector.start();
    admin = new AdminServer('127.0.0.1:0', () => collector);
    await admin.start();

    const receiver = collector.receivers.get('otlp') as unknown as OtlpReceiver;
    const response = await fetch(`http://${receiver.http!.address}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: encodeMetricsRequest(deltaCounter('a', 'b', 'c')),
    });
    expect(response.status).toBe(200);

    const metrics = await (await fetch(`http://${admin.address}/metrics`)).text();
    expect(metrics).toContain(
      'sluice_dropped_points_total{processor="deltatocumulative",reason="max_streams"} 2',
    );
  });
});
