import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../../src/collector/collector.js';
import { PermanentError } from '../../src/delivery/errors.js';
import { InfluxSender } from '../../src/exporters/influxdb/influx-sender.js';
import { MetricBatch, MetricType } from '../../src/index.js';
import { otlpHttpUrl, otlpInto, queuedExporter, recordWithSdk } from '../helpers/collectors.js';
import { type RunningService, startService } from '../helpers/services.js';

describe('influxdb exporter → a real InfluxDB 1.x', () => {
  let server: RunningService;
  let collector: Collector;

  /** InfluxQL against the `metrics` database: the rows of the first series, as objects. */
  async function influxql(query: string): Promise<Record<string, unknown>[]> {
    const url = new URL(`${server.url}/query`);
    url.searchParams.set('db', 'metrics');
    url.searchParams.set('q', query);
    const body = (await (await fetch(url)).json()) as {
      results: { series?: { columns: string[]; values: unknown[][] }[]; error?: string }[];
    };
    if (body.results[0].error) throw new Error(body.results[0].error);
    const series = body.results[0].series?.[0];
    return (series?.values ?? []).map((row) =>
      Object.fromEntries(series!.columns.map((c, k) => [c, row[k]])),
    );
  }

  beforeAll(async () => {
    server = await startService('influxdb');
    await fetch(`${server.url}/query?q=${encodeURIComponent('CREATE DATABASE metrics')}`, {
      method: 'POST',
    });
    collector = await otlpInto(
      'influxdb',
      `    endpoint: ${server.url}
    v1_compatibility: { enabled: true, db: metrics }
    batch: { flush_interval: 10ms }`,
    );
    await recordWithSdk(
      otlpHttpUrl(collector),
      { 'service.name': 'shop api', 'host.name': 'h=1,2' },
      (meter) => {
        meter.createCounter('orders.placed').add(17, { 'http.route': '/orders, new' });
        const latency = meter.createHistogram('orders.latency', {
          unit: 'ms',
          advice: { explicitBucketBoundaries: [10, 100] },
        });
        for (const ms of [5, 50, 70, 500]) latency.record(ms);
        meter.createObservableGauge('orders.pending').addCallback((r) => r.observe(4.5));
      },
    );
    await queuedExporter(collector, 'influxdb').engine.forceFlush();
  });

  afterAll(async () => {
    await collector?.shutdown(2_000);
    await server?.stop();
  });

  it('writes counters and gauges with attributes and resource as tags (escaped)', async () => {
    expect(await influxql('SELECT * FROM "orders.placed"')).toEqual([
      expect.objectContaining({
        counter: 17,
        'http.route': '/orders, new',
        'service.name': 'shop api',
        'host.name': 'h=1,2',
        'otel.scope.name': 'app',
      }),
    ]);
    expect(await influxql('SELECT gauge FROM "orders.pending"')).toEqual([
      expect.objectContaining({ gauge: 4.5 }),
    ]);
  });

  it('writes histograms as count, sum and cumulative bucket fields', async () => {
    const [row] = await influxql('SELECT * FROM "orders.latency"');
    expect(row).toMatchObject({ count: 4, sum: 625, '10': 1, '100': 3, '+Inf': 4 });
  });

  it('treats a field type conflict as permanent, with the server message', async () => {
    const sender = new InfluxSender({
      writeUrl: new URL(`${server.url}/write?db=metrics&precision=ns`),
      headers: {},
      compression: 'none',
      connections: 1,
    });
    // `gauge` is a float field of orders.pending already; a string there is refused.
    await fetch(`${server.url}/write?db=metrics`, {
      method: 'POST',
      body: 'conflict gauge="text"',
    });
    const batch = new MetricBatch();
    const g = batch.addMetric(batch.addScope(batch.addResource()), {
      name: 'conflict',
      type: MetricType.Gauge,
    });
    batch.addNumberPoint(batch.series(g, {}), { time: BigInt(Date.now()) * 1_000_000n, value: 1 });
    const sent = sender.send(batch, new AbortController().signal);
    await expect(sent).rejects.toBeInstanceOf(PermanentError);
    await expect(sent).rejects.toThrow(/HTTP 400.*field type conflict/);
    await sender.close();
  });
});
