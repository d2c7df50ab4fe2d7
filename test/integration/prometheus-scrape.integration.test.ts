import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../../src/collector/collector.js';
import type { PrometheusExporter } from '../../src/exporters/prometheus/prometheus-exporter.js';
import { otlpHttpUrl, otlpInto, recordWithSdk } from '../helpers/collectors.js';
import { type RunningService, startService, waitForSeries } from '../helpers/services.js';

describe('prometheus exporter scraped by a real Prometheus', () => {
  let server: RunningService;
  let collector: Collector;

  beforeAll(async () => {
    server = await startService('prometheus');
    collector = await otlpInto('prometheus', '    endpoint: 127.0.0.1:0');
    const target = (collector.exporters.get('prometheus') as unknown as PrometheusExporter).address;
    writeFileSync(
      join(server.stateDir, 'prometheus.yml'),
      `global:
  scrape_interval: 1s
scrape_configs:
  - job_name: sluice
    honor_labels: true
    static_configs:
      - targets: ['${target}']
`,
    );
    const reload = await fetch(`${server.url}/-/reload`, { method: 'POST' });
    expect(reload.status).toBe(200);

    await recordWithSdk(
      otlpHttpUrl(collector),
      { 'service.name': 'billing', 'service.instance.id': 'b-7' },
      (meter) => {
        meter.createCounter('invoices.sent').add(12, { currency: 'EUR' });
        const size = meter.createHistogram('invoice.size', {
          unit: 'By',
          advice: { explicitBucketBoundaries: [1000, 10000] },
        });
        for (const bytes of [500, 5000, 50000, 600]) size.record(bytes);
      },
    );
  });

  afterAll(async () => {
    await collector?.shutdown(2_000);
    await server?.stop();
  });

  it('reads counters with their OTel identity as job and instance', async () => {
    const [series] = await waitForSeries(server.url, 'invoices_sent_total');
    expect(series.metric).toMatchObject({ job: 'billing', instance: 'b-7', currency: 'EUR' });
    expect(Number(series.value[1])).toBe(12);
  });

  it('reads histograms as buckets that PromQL can use', async () => {
    const buckets = await waitForSeries(server.url, 'invoice_size_bytes_bucket', 3);
    const byLe = Object.fromEntries(buckets.map((b) => [b.metric.le, Number(b.value[1])]));
    expect(byLe).toEqual({ '1000': 2, '10000': 3, '+Inf': 4 });
    const [count] = await waitForSeries(server.url, 'invoice_size_bytes_count');
    expect(Number(count.value[1])).toBe(4);
    const [sum] = await waitForSeries(server.url, 'invoice_size_bytes_sum');
    expect(Number(sum.value[1])).toBe(56100);
  });

  it('reads target_info and sees the target up', async () => {
    const [up] = await waitForSeries(server.url, 'up{job="sluice"}');
    expect(Number(up.value[1])).toBe(1);
    const [info] = await waitForSeries(server.url, 'target_info{job="billing"}');
    expect(info.metric.instance).toBe('b-7');
  });
});
