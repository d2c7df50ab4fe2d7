import { gunzipSync } from 'node:zlib';
import { AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  prometheusName,
  sanitizeLabelName,
  unitSuffix,
} from '../../src/codec/prometheus/naming.js';
import { Collector } from '../../src/collector/collector.js';
import { parseConfig } from '../../src/collector/config/load-config.js';
import type { PrometheusExporter } from '../../src/exporters/prometheus/prometheus-exporter.js';
import { ScrapeState } from '../../src/exporters/prometheus/scrape-state.js';
import { MetricBatch, MetricType, Temporality } from '../../src/index.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';

describe('OTel → Prometheus names', () => {
  const metric = (name: string, unit: string, type: MetricType, monotonic = false) => ({
    scope: 0,
    name,
    unit,
    type,
    monotonic,
    description: '',
    temporality: Temporality.Cumulative,
    metadata: [],
  });
  it.each([
    [
      'http.server.request.duration',
      's',
      MetricType.Histogram,
      false,
      'http_server_request_duration_seconds',
    ],
    ['http.server.requests', '{request}', MetricType.Sum, true, 'http_server_requests_total'],
    ['system.filesystem.usage', 'By', MetricType.Gauge, false, 'system_filesystem_usage_bytes'],
    ['system.memory.utilization', '1', MetricType.Gauge, false, 'system_memory_utilization_ratio'],
    ['network.io', 'By/s', MetricType.Gauge, false, 'network_io_bytes_per_second'],
    ['requests_total', '1', MetricType.Sum, true, 'requests_total'],
    ['latency_seconds', 's', MetricType.Gauge, false, 'latency_seconds'],
    ['(lambda).function.executions(#)', '', MetricType.Sum, false, 'lambda_function_executions'],
    ['2xx.count', 'packets', MetricType.Sum, true, '_2xx_count_packets_total'],
  ])('%s [%s] → %s', (name, unit, type, monotonic, expected) => {
    expect(
      prometheusName(
        metric(name as string, unit as string, type as MetricType, monotonic as boolean),
      ),
    ).toBe(expected);
  });
  it('spells units and sanitises labels', () => {
    expect(unitSuffix('ms')).toBe('milliseconds');
    expect(unitSuffix('{packet}/s')).toBe('per_second');
    expect(sanitizeLabelName('http.route')).toBe('http_route');
    expect(sanitizeLabelName('2fa.enabled')).toBe('key_2fa_enabled');
  });
});

describe('prometheus exporter end to end', () => {
  let collector: Collector;
  beforeEach(async () => {
    collector = new Collector(
      parseConfig(`
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  prometheus:
    endpoint: 127.0.0.1:0
    enable_open_metrics: true
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
`),
      pino({ level: 'silent' }),
    );
    await collector.start();
  });
  afterEach(async () => {
    await collector.shutdown(1_000);
  });

  async function send(
    temporality: AggregationTemporality,
    record: (meter: ReturnType<MeterProvider['getMeter']>) => void,
  ) {
    const http = (collector.receivers.get('otlp') as unknown as OtlpReceiver).http!;
    const exporter = new OTLPMetricExporter({
      url: `http://${http.address}/v1/metrics`,
      temporalityPreference:
        temporality === AggregationTemporality.DELTA
          ? AggregationTemporalityPreference.DELTA
          : AggregationTemporalityPreference.CUMULATIVE,
    });
    expect(exporter.selectAggregationTemporality(InstrumentType.COUNTER)).toBe(temporality);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({
      resource: resourceFromAttributes({
        'service.name': 'checkout',
        'service.instance.id': 'pod-1',
        'host.arch': 'amd64',
      }),
      readers: [reader],
    });
    record(provider.getMeter('shop', '2.0'));
    await reader.forceFlush();
    return provider;
  }

  const scrape = async (accept?: string) => {
    const prometheus = collector.exporters.get('prometheus') as unknown as PrometheusExporter;
    const response = await fetch(`http://${prometheus.address}/metrics`, {
      headers: accept ? { accept } : {},
    });
    return { type: response.headers.get('content-type'), text: await response.text() };
  };

  it('gzips the exposition for a scraper that accepts it, as Prometheus does', async () => {
    const provider = await send(AggregationTemporality.CUMULATIVE, (meter) => {
      const counter = meter.createCounter('orders');
      for (let k = 0; k < 500; k++) counter.add(k + 1, { shop: `s${k}` });
    });
    const prometheus = collector.exporters.get('prometheus') as unknown as PrometheusExporter;
    const { request } = await import('undici');
    const zipped = await request(`http://${prometheus.address}/metrics`, {
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    const body = gunzipSync(Buffer.from(await zipped.body.arrayBuffer())).toString();
    const plain = await request(`http://${prometheus.address}/metrics`);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(body).toBe(await plain.body.text());
    expect(body).toContain('orders_total{');
    expect(body.match(/^orders_total\{/gm)).toHaveLength(500);
    await provider.shutdown();
  });

  it('exposes counters, gauges and histograms with translated names, job/instance and target_info', async () => {
    const provider = await send(AggregationTemporality.CUMULATIVE, (meter) => {
      meter
        .createCounter('http.server.requests', {
          unit: '{request}',
          description: 'Requests served',
        })
        .add(3, { 'http.route': '/cart' });
      meter.createGauge('cpu.utilization', { unit: '1' }).record(0.25);
      const h = meter.createHistogram('http.server.duration', {
        unit: 'ms',
        advice: { explicitBucketBoundaries: [10, 100] },
      });
      h.record(5);
      h.record(50);
      h.record(500);
    });
    const { type, text } = await scrape();
    expect(type).toContain('version=0.0.4');
    const job = 'instance="pod-1",job="checkout",otel_scope_name="shop",otel_scope_version="2.0"';
    expect(text).toContain(
      '# HELP http_server_requests_total Requests served\n# TYPE http_server_requests_total counter\n',
    );
    expect(text).toContain(`http_server_requests_total{http_route="/cart",${job}} 3\n`);
    expect(text).toContain(`cpu_utilization_ratio{${job}} 0.25\n`);
    expect(text).toContain(`http_server_duration_milliseconds_bucket{${job},le="10"} 1\n`);
    expect(text).toContain(`http_server_duration_milliseconds_bucket{${job},le="100"} 2\n`);
    expect(text).toContain(`http_server_duration_milliseconds_bucket{${job},le="+Inf"} 3\n`);
    expect(text).toContain(`http_server_duration_milliseconds_sum{${job}} 555\n`);
    expect(text).toContain(`http_server_duration_milliseconds_count{${job}} 3\n`);
    expect(text).toContain('target_info{host_arch="amd64",instance="pod-1",job="checkout"} 1\n');
    const open = await scrape('application/openmetrics-text; version=1.0.0');
    expect(open.type).toContain('application/openmetrics-text');
    expect(open.text).toContain('# TYPE http_server_requests counter\n');
    expect(open.text).toContain('# UNIT http_server_duration_milliseconds milliseconds\n');
    expect(open.text.endsWith('# EOF\n')).toBe(true);
    await provider.shutdown();
  });

  it('reads the points of known series from the request bytes (the relay), as decoding would', async () => {
    expect(collector.relays.get('otlp')).toEqual(['otlp']);
    let counter: ReturnType<ReturnType<MeterProvider['getMeter']>['createCounter']> | undefined;
    let histogram: ReturnType<ReturnType<MeterProvider['getMeter']>['createHistogram']> | undefined;
    const provider = await send(AggregationTemporality.CUMULATIVE, (meter) => {
      counter = meter.createCounter('jobs.done');
      counter.add(2, { queue: 'a' });
      histogram = meter.createHistogram('wait', {
        unit: 'ms',
        advice: { explicitBucketBoundaries: [10] },
      });
      histogram.record(5);
    });
    const prometheus = collector.exporters.get('prometheus') as unknown as PrometheusExporter;
    // The first request brought new series: it went through a batch.
    expect(prometheus.scannedRequests).toBe(0);
    counter!.add(5, { queue: 'a' });
    histogram!.record(50);
    await provider.forceFlush();
    expect(prometheus.scannedRequests).toBe(1);
    const { text } = await scrape();
    const job = 'instance="pod-1",job="checkout",otel_scope_name="shop",otel_scope_version="2.0"';
    expect(text).toContain(`jobs_done_total{${job},queue="a"} 7\n`);
    expect(text).toContain(`wait_milliseconds_bucket{${job},le="10"} 1\n`);
    expect(text).toContain(`wait_milliseconds_bucket{${job},le="+Inf"} 2\n`);
    expect(text).toContain(`wait_milliseconds_sum{${job}} 55\n`);
    await provider.shutdown();
  });

  it('accumulates delta sums into a cumulative counter', async () => {
    let counter: ReturnType<ReturnType<MeterProvider['getMeter']>['createCounter']> | undefined;
    const provider = await send(AggregationTemporality.DELTA, (meter) => {
      counter = meter.createCounter('jobs.done');
      counter.add(2);
    });
    counter!.add(5);
    await provider.forceFlush();
    const { text } = await scrape();
    expect(text).toMatch(/jobs_done_total\{[^}]*\} 7\n/);
    await provider.shutdown();
  });
});

describe('prometheus scrape state: exponential histograms', () => {
  it('shows cumulative ones as classic buckets and counts the delta ones it cannot add up', () => {
    const state = new ScrapeState({
      constLabels: {},
      addSuffixes: true,
      resourceToLabels: false,
      sendTimestamps: false,
      expirationMs: 60_000,
    });
    const batch = new MetricBatch();
    const scope = batch.addScope(batch.addResource());
    for (const temporality of [Temporality.Cumulative, Temporality.Delta]) {
      const m = batch.addMetric(scope, {
        name: temporality === Temporality.Cumulative ? 'payload' : 'payload.delta',
        type: MetricType.ExponentialHistogram,
        temporality,
        unit: 'By',
      });
      batch.addExponentialHistogramPoint(batch.series(m, {}), {
        startTime: 1n,
        time: 2n,
        count: 6,
        sum: 50,
        scale: 0,
        zeroCount: 1,
        positive: { offset: 2, bucketCounts: [2, 3] }, // (4, 8] and (8, 16]
      });
    }
    state.update(batch);
    const text = state.render(false);
    expect(text).toContain('# TYPE payload_bytes histogram\n');
    expect(text).toContain('payload_bytes_bucket{le="0"} 1\n');
    expect(text).toContain('payload_bytes_bucket{le="8"} 3\n');
    expect(text).toContain('payload_bytes_bucket{le="16"} 6\n');
    expect(text).toContain('payload_bytes_bucket{le="+Inf"} 6\n');
    expect(text).toContain('payload_bytes_count 6\n');
    expect(text).not.toContain('payload_delta');
    expect(state.skipped).toEqual({ delta_exponential_histogram: 1 });
  });
});

describe('prometheus scrape state: series found by their attribute bytes', () => {
  const options = {
    constLabels: { env: 'test' },
    addSuffixes: true,
    resourceToLabels: false,
    sendTimestamps: false,
    expirationMs: 1_000,
  };
  /** A gauge `g` point with `attributes` (in that order) and `value`, as its own request. */
  const point = (attributes: Record<string, string | number>, value: number) => {
    const batch = new MetricBatch();
    const scope = batch.addScope(batch.addResource({ attributes: { 'service.name': 'svc' } }));
    const m = batch.addMetric(scope, { name: 'g', type: MetricType.Gauge });
    batch.addNumberPoint(batch.series(m, attributes), { time: 1_000_000n, value });
    return batch;
  };

  it('one series for the same labels, whatever the attribute order or type that led to them', () => {
    const state = new ScrapeState(options);
    state.update(point({ a: '1', b: '2' }, 1), 0);
    state.update(point({ b: '2', a: '1' }, 2), 0); // other bytes, the same labels
    state.update(point({ a: 1, b: '2' }, 3), 0); // an int that renders as the same text
    expect(state.render(false, 0).match(/^g\{.*$/gm)).toEqual([
      'g{a="1",b="2",env="test",job="svc"} 3',
    ]);
    // Each way in keeps reaching that one series.
    state.update(point({ a: '1', b: '2' }, 4), 0);
    expect(state.render(false, 0).match(/^g\{.*$/gm)).toEqual([
      'g{a="1",b="2",env="test",job="svc"} 4',
    ]);
  });

  it('a series that expired comes back with its next point', () => {
    const state = new ScrapeState(options);
    state.update(point({ a: '1' }, 1), 0);
    expect(state.render(false, 5_000)).not.toContain('g{');
    state.update(point({ a: '1' }, 2), 5_000);
    expect(state.render(false, 5_000)).toContain('g{a="1",env="test",job="svc"} 2\n');
  });

  it('renders in pieces that add up to the whole text', () => {
    const state = new ScrapeState(options);
    const batch = new MetricBatch();
    const scope = batch.addScope(batch.addResource({ attributes: { 'service.name': 'svc' } }));
    const m = batch.addMetric(scope, { name: 'g', type: MetricType.Gauge });
    for (let k = 0; k < 60_000; k++)
      batch.addNumberPoint(batch.series(m, { k: `series-${k}` }), { time: 1_000_000n, value: k });
    state.update(batch, 0);
    const pieces = [...state.renderChunks(true, 0)];
    expect(pieces.length).toBeGreaterThan(1);
    const whole = Buffer.concat(pieces).toString('utf8');
    expect(whole).toBe(state.render(true, 0));
    expect(whole.endsWith('# EOF\n')).toBe(true);
    expect(whole.match(/^g\{/gm)).toHaveLength(60_000);
  });

  it('writes labels that are not ASCII as UTF-8, and a line longer than a piece whole', () => {
    const state = new ScrapeState(options);
    const long = 'x'.repeat(3 * 1024 * 1024);
    state.update(point({ city: 'Zürich', mood: '🙂' }, 1), 0);
    state.update(point({ long }, 2), 0);
    state.update(point({ plain: 'ascii' }, 3), 0);
    const text = Buffer.concat([...state.renderChunks(false, 0)]).toString('utf8');
    expect(text).toContain('g{city="Zürich",env="test",job="svc",mood="🙂"} 1\n');
    expect(text).toContain(`g{env="test",job="svc",long="${long}"} 2\n`);
    expect(text).toContain('g{env="test",job="svc",plain="ascii"} 3\n');
  });
});
