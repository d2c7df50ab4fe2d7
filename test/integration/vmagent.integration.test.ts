import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../../src/collector/collector.js';
import type { QueuedExporter } from '../../src/exporters/helper/queued-exporter.js';
import { MetricBatch, MetricType, Temporality } from '../../src/index.js';
import { otlpInto, remoteWriteInto } from '../helpers/collectors.js';
import { OtlpSink } from '../helpers/otlp-sink.js';
import { type RunningService, startService, waitForSeries } from '../helpers/services.js';

describe('vmagent remote-writing into sluice', () => {
  let target: Server;
  let sink: OtlpSink;
  let collector: Collector;
  let agent: RunningService;
  let configDir: string;

  beforeAll(async () => {
    // A scrape target with known values, in the Prometheus text format.
    target = createServer((_req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(
        [
          '# TYPE demo_requests_total counter',
          'demo_requests_total{path="/a"} 42',
          '# TYPE demo_temperature gauge',
          'demo_temperature 21.5',
          '',
        ].join('\n'),
      );
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    sink = new OtlpSink();
    await sink.start();
    const receiving = await remoteWriteInto(sink.url);
    collector = receiving.collector;
    configDir = mkdtempSync(join(tmpdir(), 'sluice-vmagent-test-'));
    const scrapeConfig = join(configDir, 'scrape.yml');
    writeFileSync(
      scrapeConfig,
      `global:
  scrape_interval: 1s
scrape_configs:
  - job_name: demo
    static_configs:
      - targets: ['127.0.0.1:${(target.address() as AddressInfo).port}']
`,
    );
    agent = await startService('vmagent', {
      VMAGENT_REMOTE_WRITE_URL: receiving.writeUrl,
      VMAGENT_SCRAPE_CONFIG: scrapeConfig,
    });
  });

  afterAll(async () => {
    await agent?.stop();
    await collector?.shutdown(2_000);
    await sink?.stop();
    await new Promise((resolve) => target?.close(resolve));
    rmSync(configDir, { recursive: true, force: true });
  });

  it('arrives as OTel metrics: the counter as a monotonic sum, the gauge as a gauge', async () => {
    const found = new Map<string, any>();
    const until = Date.now() + 30_000;
    while (!(found.has('demo_requests') && found.has('demo_temperature')) && Date.now() < until) {
      for (const request of sink.accepted) {
        for (const rm of request.request.resourceMetrics)
          for (const sm of rm.scopeMetrics)
            for (const m of sm.metrics) found.set(m.name, { rm, m });
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const requests = found.get('demo_requests');
    expect(requests, 'demo_requests not received').toBeDefined();
    expect(requests.m.sum.isMonotonic).toBe(true);
    expect(requests.m.sum.dataPoints[0].asDouble).toBe(42);
    expect(requests.m.sum.dataPoints[0].attributes).toContainEqual({
      key: 'path',
      value: { stringValue: '/a' },
    });
    const temperature = found.get('demo_temperature');
    expect(temperature.m.gauge.dataPoints[0].asDouble).toBe(21.5);
    // vmagent's job/instance become the resource's service.name / service.instance.id.
    expect(temperature.rm.resource.attributes).toContainEqual({
      key: 'service.name',
      value: { stringValue: 'demo' },
    });
  });
});

describe('sluice remote-writing through vmagent into VictoriaMetrics', () => {
  let storage: RunningService;
  let agent: RunningService;
  let collector: Collector;

  beforeAll(async () => {
    storage = await startService('victoria-metrics');
    agent = await startService('vmagent', {
      VMAGENT_REMOTE_WRITE_URL: `${storage.url}/api/v1/write`,
    });
    collector = await otlpInto(
      'prometheusremotewrite',
      `    endpoint: ${agent.url}/api/v1/write
    batch: { flush_interval: 10ms }`,
    );
  });

  afterAll(async () => {
    await collector?.shutdown(2_000);
    await agent?.stop();
    await storage?.stop();
  });

  it('lands with its values and labels', async () => {
    const batch = new MetricBatch();
    const scope = batch.addScope(
      batch.addResource({ attributes: { 'service.name': 'worker', 'service.instance.id': 'w1' } }),
      { name: 'jobs' },
    );
    const done = batch.addMetric(scope, {
      name: 'jobs.done',
      type: MetricType.Sum,
      temporality: Temporality.Cumulative,
      monotonic: true,
    });
    const now = BigInt(Date.now()) * 1_000_000n;
    batch.addNumberPoint(batch.series(done, { queue: 'mail' }), {
      startTime: now - 60_000_000_000n,
      time: now,
      value: 314,
    });
    const exporter = collector.exporters.get('prometheusremotewrite') as QueuedExporter;
    await exporter.consume(batch);
    await exporter.engine.forceFlush();
    expect(exporter.engine.stats.sent).toBe(1);
    const until = Date.now() + 30_000;
    let result: Awaited<ReturnType<typeof waitForSeries>> = [];
    while (result.length === 0 && Date.now() < until) {
      await fetch(`${storage.url}/internal/force_flush`);
      result = await waitForSeries(storage.url, 'jobs_done_total', 0);
      if (result.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(result).toHaveLength(1);
    expect(result[0].metric).toMatchObject({ job: 'worker', instance: 'w1', queue: 'mail' });
    expect(Number(result[0].value[1])).toBe(314);
  });
});
