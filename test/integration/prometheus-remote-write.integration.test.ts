import { AggregationTemporality, AggregationType } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../../src/collector/collector.js';
import { PermanentError } from '../../src/delivery/errors.js';
import type { QueuedExporter } from '../../src/exporters/helper/queued-exporter.js';
import { RemoteWriteSender } from '../../src/exporters/prometheusremotewrite/remote-write-sender.js';
import { MetricBatch, MetricType, Temporality } from '../../src/index.js';
import { otlpHttpUrl, otlpInto, queuedExporter, recordWithSdk } from '../helpers/collectors.js';
import {
  type RunningService,
  type ServiceName,
  startService,
  waitForSeries,
} from '../helpers/services.js';

/** Real OTel SDK data, exported by the official OTLP exporter into a sluice collector. */
function recordThroughSluice(
  collector: Collector,
  temporality = AggregationTemporality.CUMULATIVE,
): Promise<void> {
  return recordWithSdk(
    otlpHttpUrl(collector),
    {
      'service.name': 'checkout',
      'service.instance.id': 'pod-1',
      'deployment.environment': 'prod',
    },
    (meter) => {
      const requests = meter.createCounter('http.server.requests');
      requests.add(5, { 'http.route': '/cart', 'http.method': 'GET' });
      requests.add(2, { 'http.route': '/cart', 'http.method': 'GET' });
      requests.add(1, { 'http.route': '/pay', 'http.method': 'POST' });
      const duration = meter.createHistogram('http.server.duration', {
        unit: 'ms',
        advice: { explicitBucketBoundaries: [10, 100] },
      });
      for (const ms of [3, 30, 300]) duration.record(ms, { 'http.route': '/cart' });
      const payload = meter.createHistogram('payload.size', { unit: 'By' });
      for (const bytes of [100, 200, 400, 800, 1600]) payload.record(bytes);
      meter.createUpDownCounter('active.sessions').add(3);
      meter.createObservableGauge('queue.depth').addCallback((result) => result.observe(7));
    },
    {
      temporality,
      meterVersion: '1.2.0',
      views: [
        {
          instrumentName: 'payload.size',
          aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM },
        },
      ],
    },
  );
}

function collectorFor(endpoint: string): Promise<Collector> {
  return otlpInto(
    'prometheusremotewrite',
    `    endpoint: ${endpoint}
    external_labels:
      cluster: test
    send_metadata: true
    batch:
      flush_interval: 10ms
    retry_on_failure:
      enabled: false`,
  );
}

const value = (series: { value: [number, string] }[]) => series.map((s) => Number(s.value[1]));
const le = (text: string) => (text === '+Inf' ? Number.POSITIVE_INFINITY : Number(text));

for (const backend of ['prometheus', 'victoria-metrics'] as ServiceName[]) {
  describe(`prometheusremotewrite exporter → real ${backend}`, () => {
    let server: RunningService;
    let collector: Collector;
    // VictoriaMetrics makes new samples searchable after its in-memory buffers are flushed.
    const query = async (promql: string, count = 1) => {
      if (backend === 'victoria-metrics') await fetch(`${server.url}/internal/force_flush`);
      return waitForSeries(server.url, promql, count);
    };

    beforeAll(async () => {
      server = await startService(backend);
      collector = await collectorFor(`${server.url}/api/v1/write`);
      await recordThroughSluice(collector);
      await (
        collector.exporters.get('prometheusremotewrite') as QueuedExporter
      ).engine.forceFlush();
    });

    afterAll(async () => {
      await collector?.shutdown(2_000);
      await server?.stop();
    });

    it('stores counters with _total, job/instance from the service, labels sanitised', async () => {
      const series = await query('http_server_requests_total', 2);
      const cart = series.find((s) => s.metric.http_route === '/cart')!;
      expect(cart.metric).toMatchObject({
        __name__: 'http_server_requests_total',
        job: 'checkout',
        instance: 'pod-1',
        http_method: 'GET',
        otel_scope_name: 'app',
        otel_scope_version: '1.2.0',
        cluster: 'test',
      });
      expect(Number(cart.value[1])).toBe(7);
      expect(value(await query('http_server_requests_total{http_route="/pay"}'))).toEqual([1]);
    });

    it('stores histograms as cumulative _bucket{le}, _sum and _count with the unit suffix', async () => {
      const name = 'http_server_duration_milliseconds';
      expect(value(await query(`${name}_bucket{le="10"}`))).toEqual([1]);
      expect(value(await query(`${name}_bucket{le="100"}`))).toEqual([2]);
      expect(value(await query(`${name}_bucket{le="+Inf"}`))).toEqual([3]);
      expect(value(await query(`${name}_sum`))).toEqual([333]);
      expect(value(await query(`${name}_count`))).toEqual([3]);
      // PromQL over what we wrote: the median lies in the (10, 100] bucket.
      const [median] = value(await query(`histogram_quantile(0.5, ${name}_bucket)`));
      expect(median).toBeGreaterThan(10);
      expect(median).toBeLessThanOrEqual(100);
    });

    it('stores exponential histograms as classic buckets', async () => {
      const name = 'payload_size_bytes';
      expect(value(await query(`${name}_count`))).toEqual([5]);
      expect(value(await query(`${name}_sum`))).toEqual([3100]);
      expect(value(await query(`${name}_bucket{le="+Inf"}`))).toEqual([5]);
      const buckets = await query(`${name}_bucket`, 3);
      // Cumulative counts rise with le; 100 lies at or below the first populated bound.
      const sorted = buckets
        .map((b) => [le(b.metric.le), Number(b.value[1])])
        .sort((a, b) => a[0] - b[0]);
      for (let k = 1; k < sorted.length; k++)
        expect(sorted[k][1]).toBeGreaterThanOrEqual(sorted[k - 1][1]);
      const [median] = value(await query(`histogram_quantile(0.5, ${name}_bucket)`));
      expect(median).toBeGreaterThan(200);
      expect(median).toBeLessThanOrEqual(800);
    });

    it('stores gauges and non-monotonic sums as gauges, and target_info per resource', async () => {
      expect(value(await query('queue_depth{job="checkout"}'))).toEqual([7]);
      expect(value(await query('active_sessions{job="checkout"}'))).toEqual([3]);
      const [info] = await query('target_info');
      expect(info.metric).toMatchObject({
        job: 'checkout',
        instance: 'pod-1',
        deployment_environment: 'prod',
        cluster: 'test',
      });
    });

    it('counts and explains delta points instead of sending them', async () => {
      const engine = queuedExporter(collector, 'prometheusremotewrite').engine;
      const rejectedBefore = engine.stats.rejected;
      await recordThroughSluice(collector, AggregationTemporality.DELTA);
      await engine.forceFlush();
      // Counter and both histograms are delta; the up-down counter and the gauge stay
      // cumulative.
      expect(engine.stats.rejected - rejectedBefore).toBe(4);
    });
  });
}

describe('prometheusremotewrite against a real Prometheus: refusals', () => {
  let server: RunningService;
  beforeAll(async () => {
    server = await startService('prometheus');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('treats an out-of-order sample as permanent (dead letter), not as something to retry', async () => {
    const sender = new RemoteWriteSender({
      endpoint: `${server.url}/api/v1/write`,
      headers: {},
      connections: 1,
      addSuffixes: true,
      resourceToLabels: false,
      targetInfo: false,
      sendMetadata: false,
      externalLabels: {},
      exponentialHistograms: 'classic',
      exponentialMaxBuckets: 32,
    });
    const now = BigInt(Date.now()) * 1_000_000n;
    const batchAt = (time: bigint, value: number) => {
      const batch = new MetricBatch();
      const m = batch.addMetric(batch.addScope(batch.addResource()), {
        name: 'jobs.done',
        type: MetricType.Sum,
        temporality: Temporality.Cumulative,
        monotonic: true,
      });
      batch.addNumberPoint(batch.series(m, { queue: 'a' }), { startTime: 1n, time, value });
      return batch;
    };
    const signal = new AbortController().signal;
    await sender.send(batchAt(now, 10), signal);
    const older = sender.send(batchAt(now - 60_000_000_000n, 4), signal);
    await expect(older).rejects.toBeInstanceOf(PermanentError);
    await expect(older).rejects.toThrow(/HTTP 400.*out of order/i);
    expect(value(await waitForSeries(server.url, 'jobs_done_total'))).toEqual([10]);
    await sender.close();
  });
});

describe('prometheusremotewrite with basic auth, against VictoriaMetrics requiring it', () => {
  let server: RunningService;
  const authorization = `Basic ${Buffer.from('writer:s3cret').toString('base64')}`;
  beforeAll(async () => {
    server = await startService('victoria-metrics', {
      VM_BASIC_AUTH_USER: 'writer',
      VM_BASIC_AUTH_PASSWORD: 's3cret',
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const gauge = (value: number) => {
    const batch = new MetricBatch();
    const m = batch.addMetric(batch.addScope(batch.addResource()), {
      name: 'door.open',
      type: MetricType.Gauge,
    });
    batch.addNumberPoint(batch.series(m, {}), { time: BigInt(Date.now()) * 1_000_000n, value });
    return batch;
  };

  it('sends with basic_auth; without it the 401 is permanent', async () => {
    const exporterFor = (extra: string) =>
      otlpInto('prometheusremotewrite', `    endpoint: ${server.url}/api/v1/write\n${extra}`);
    const withAuth = await exporterFor('    basic_auth: { username: writer, password: s3cret }');
    const without = await exporterFor('    retry_on_failure: { enabled: false }');
    try {
      const ok = queuedExporter(withAuth, 'prometheusremotewrite');
      await ok.consume(gauge(1));
      await ok.engine.forceFlush();
      expect(ok.engine.stats.sent).toBe(1);
      const refused = queuedExporter(without, 'prometheusremotewrite');
      await refused.consume(gauge(2));
      await refused.engine.forceFlush();
      expect(refused.engine.stats.sent).toBe(0);
      expect(refused.engine.stats.dropped).toEqual({ permanent: 1 });
      await fetch(`${server.url}/internal/force_flush`, { headers: { authorization } });
      const until = Date.now() + 20_000;
      let values: number[] = [];
      while (values.length === 0 && Date.now() < until) {
        const response = await fetch(`${server.url}/api/v1/query?query=door_open`, {
          headers: { authorization },
        });
        const body = (await response.json()) as { data: { result: { value: [number, string] }[] } };
        values = value(body.data.result);
        if (values.length === 0) await new Promise((r) => setTimeout(r, 250));
      }
      expect(values).toEqual([1]);
    } finally {
      await withAuth.shutdown(2_000);
      await without.shutdown(2_000);
    }
  });
});
