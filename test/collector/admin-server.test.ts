import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminServer } from '../../src/collector/admin-server.js';
import { Collector } from '../../src/collector/collector.js';
import { parseConfig } from '../../src/collector/config/load-config.js';
import { encodeMetricsRequest, Temporality } from '../../src/index.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/factory.js';
import { monotonicSums } from '../helpers/batches.js';
import { startCollector } from '../helpers/collectors.js';

let collector: Collector | undefined;
let admin: AdminServer | undefined;

afterEach(async () => {
  await admin?.stop();
  await collector?.shutdown(200);
});

describe('admin /metrics', () => {
  it('reports what a processor dropped, by processor and reason', async () => {
    collector = await startCollector(`
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
`);
    admin = new AdminServer('127.0.0.1:0', () => collector);
    await admin.start();

    const receiver = collector.receivers.get('otlp') as unknown as OtlpReceiver;
    const response = await fetch(`http://${receiver.http!.address}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: encodeMetricsRequest(
        monotonicSums(
          Temporality.Delta,
          ['a', 'b', 'c'].map((series) => ({ series, start: 1n, time: 2n, value: 1 })),
        ),
      ),
    });
    expect(response.status).toBe(200);

    const metrics = await (await fetch(`http://${admin.address}/metrics`)).text();
    expect(metrics).toContain(
      'sluice_dropped_points_total{processor="deltatocumulative",reason="max_streams"} 2',
    );
  });

  it('reports how busy the main thread was since the previous scrape', async () => {
    collector = new Collector(
      parseConfig(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
exporters:
  debug: {}
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [debug] }
`),
      pino({ level: 'silent' }),
    );
    admin = new AdminServer('127.0.0.1:0', () => collector);
    await admin.start();
    const utilization = async () => {
      const text = await (await fetch(`http://${admin!.address}/metrics`)).text();
      return Number(/^sluice_event_loop_utilization_ratio (\S+)$/m.exec(text)?.[1]);
    };
    await utilization();
    // Busy for 300 ms, then idle for 100 ms (synchronous work blocks the loop, as a hot
    // path would); wide margins, for a machine busy with other tests.
    const until = performance.now() + 300;
    while (performance.now() < until);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const busy = await utilization();
    expect(busy).toBeGreaterThan(0.2);
    expect(busy).toBeLessThan(0.97);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await utilization()).toBeLessThan(0.5);
  });
});
