import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { uncompressSync } from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import {
  batchToRemoteWrite,
  RemoteWriteTranslator,
} from '../../src/codec/prometheus/batch-to-remote-write.js';
import { exponentialAsClassic } from '../../src/codec/prometheus/exponential-buckets.js';
import { decodeWriteRequest, encodeWriteRequest } from '../../src/codec/prometheus/remote-write.js';
import type { Collector } from '../../src/collector/collector.js';
import type { QueuedExporter } from '../../src/exporters/helper/queued-exporter.js';
import { MetricBatch, MetricType, Temporality } from '../../src/index.js';
import { otlpInto, remoteWriteInto } from '../helpers/collectors.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

const options = {
  addSuffixes: true,
  resourceToLabels: false,
  targetInfo: true,
  sendMetadata: true,
  externalLabels: { cluster: 'eu-1', env: 'override' },
  exponentialHistograms: 'classic' as const,
  exponentialMaxBuckets: 32,
};

function sampleBatch(): MetricBatch {
  const batch = new MetricBatch();
  const resource = batch.addResource({
    attributes: { 'service.name': 'api', 'service.namespace': 'shop', 'host.name': 'h1' },
  });
  const scope = batch.addScope(resource, { name: 'lib', version: '2' });
  const requests = batch.addMetric(scope, {
    name: 'http.requests',
    type: MetricType.Sum,
    temporality: Temporality.Cumulative,
    monotonic: true,
    description: 'Requests served',
  });
  const latency = batch.addMetric(scope, {
    name: 'latency',
    type: MetricType.Histogram,
    temporality: Temporality.Cumulative,
    unit: 's',
  });
  const deltas = batch.addMetric(scope, {
    name: 'bytes',
    type: MetricType.Sum,
    temporality: Temporality.Delta,
    monotonic: true,
  });
  const t = 1_700_000_000_000_000_000n;
  const labels = { Zone: 'a', 'env-name': 'x', env: 'prod', 'env.name': 'y' };
  // Two points of one series, newest first: they must reach the server in time order.
  batch.addNumberPoint(batch.series(requests, labels), {
    startTime: 1n,
    time: t + 2_000_000n,
    value: 9,
  });
  batch.addNumberPoint(batch.series(requests, labels), { startTime: 1n, time: t, value: 4 });
  batch.addHistogramPoint(batch.series(latency, {}), {
    startTime: 1n,
    time: t,
    count: 6,
    sum: 2.5,
    bounds: [0.1, 1],
    bucketCounts: [1, 2, 3],
  });
  batch.addNumberPoint(batch.series(deltas, {}), { startTime: 1n, time: t, value: 100 });
  return batch;
}

describe('RemoteWriteTranslator across batches', () => {
  it('keeps each metric its own series when metrics share attributes, batch after batch', () => {
    const translator = new RemoteWriteTranslator({ ...options, targetInfo: false });
    const batchAt = (seconds: number, bounds: number[]) => {
      const batch = new MetricBatch();
      const scope = batch.addScope(batch.addResource({ attributes: { 'service.name': 'api' } }));
      const t = BigInt(seconds) * 1_000_000_000n;
      const attrs = { route: '/a' };
      const gauge = batch.addMetric(scope, { name: 'temp', type: MetricType.Gauge });
      const sum = (name: string) =>
        batch.addMetric(scope, { name, type: MetricType.Sum, temporality: 2, monotonic: true });
      const histogram = (name: string) =>
        batch.addMetric(scope, { name, type: MetricType.Histogram, temporality: 2 });
      batch.addNumberPoint(batch.series(gauge, attrs), { time: t, value: 1 });
      batch.addNumberPoint(batch.series(sum('reqs'), attrs), { startTime: 1n, time: t, value: 2 });
      batch.addNumberPoint(batch.series(sum('errs'), attrs), { startTime: 1n, time: t, value: 3 });
      for (const [name, scale] of [
        ['lat', 1],
        ['size', 10],
      ] as const) {
        const h = batch.series(histogram(name), attrs);
        batch.addHistogramPoint(h, {
          startTime: 1n,
          time: t,
          count: 3 * scale,
          sum: 5 * scale,
          bounds,
          bucketCounts: [scale, scale, scale],
        });
        // A second point of the same series in the batch: one series, two samples.
        batch.addHistogramPoint(h, {
          startTime: 1n,
          time: t + 1_000_000n,
          count: 4 * scale,
          sum: 6 * scale,
          bounds,
          bucketCounts: [scale, scale, 2 * scale],
        });
      }
      return batch;
    };
    for (const [seconds, bounds] of [
      [1, [1, 2]],
      [2, [1, 2]],
      [3, [5, 10]],
    ] as const) {
      const { request } = translator.translate(batchAt(seconds, [...bounds]));
      const byName = new Map<string, { value: number; timestampMs: number }[]>();
      for (const s of request.timeseries) {
        const labels = Object.fromEntries(s.labels);
        expect(labels.route).toBe('/a');
        const key = `${labels.__name__}${labels.le ? `{le=${labels.le}}` : ''}`;
        expect(byName.has(key)).toBe(false);
        byName.set(key, s.samples);
      }
      const ms = seconds * 1000;
      const values = (key: string) => byName.get(key)?.map((x) => x.value);
      expect(values('temp')).toEqual([1]);
      expect(values('reqs_total')).toEqual([2]);
      expect(values('errs_total')).toEqual([3]);
      for (const [name, scale] of [
        ['lat', 1],
        ['size', 10],
      ] as const) {
        expect(values(`${name}_bucket{le=${bounds[0]}}`)).toEqual([scale, scale]);
        expect(values(`${name}_bucket{le=${bounds[1]}}`)).toEqual([2 * scale, 2 * scale]);
        expect(values(`${name}_bucket{le=+Inf}`)).toEqual([3 * scale, 4 * scale]);
        expect(values(`${name}_sum`)).toEqual([5 * scale, 6 * scale]);
        expect(values(`${name}_count`)).toEqual([3 * scale, 4 * scale]);
        expect(byName.get(`${name}_count`)!.map((x) => x.timestampMs)).toEqual([ms, ms + 1]);
      }
      expect(byName.size).toBe(3 + 2 * 5);
    }
  });
});

describe('RemoteWriteTranslator cache', () => {
  it('translates the same whether its cache holds every series or keeps starting over', () => {
    const batchOf = (round: number) => {
      const batch = new MetricBatch();
      const scope = batch.addScope(batch.addResource({ attributes: { 'service.name': 'api' } }));
      const m = batch.addMetric(scope, {
        name: 'jobs',
        type: MetricType.Sum,
        temporality: 2,
        monotonic: true,
      });
      for (let k = 0; k < 10; k++) {
        batch.addNumberPoint(batch.series(m, { worker: `w${k}` }), {
          startTime: 1n,
          time: BigInt(round) * 1_000_000_000n,
          value: round * 100 + k,
        });
      }
      return batch;
    };
    const roomy = new RemoteWriteTranslator(options);
    const tiny = new RemoteWriteTranslator(options, 4);
    for (let round = 1; round <= 3; round++) {
      const { request } = roomy.translate(batchOf(round));
      const expected = encodeWriteRequest(request);
      const actual = encodeWriteRequest(tiny.translate(batchOf(round)).request);
      expect(Buffer.from(actual).equals(Buffer.from(expected))).toBe(true);
      // The labels the encoder copies (encoded once per series) are the series' labels.
      expect(decodeWriteRequest(actual).timeseries).toEqual(
        request.timeseries.map(({ labels, samples }) => ({ labels, samples })),
      );
      expect(request.timeseries).toHaveLength(11); // + target_info
    }
  });
});

describe('OTel → Prometheus remote write translation', () => {
  it('names, sorts and merges labels per the compatibility rules; histograms as buckets', () => {
    const { request, points, skipped } = batchToRemoteWrite(sampleBatch(), options);
    // Through the wire and back, so what is checked is what a server would read.
    const decoded = decodeWriteRequest(encodeWriteRequest(request));
    const byName = new Map(
      decoded.timeseries.map((s) => [
        s.labels.map(([k, v]) => `${k}=${v}`).join(','),
        s.samples.map((x) => [x.value, x.timestampMs]),
      ]),
    );
    const ms = 1_700_000_000_000;
    expect([...byName]).toEqual([
      [
        // `env-name` and `env.name` both become env_name: values joined, sorted. `env` from
        // the point is overridden by the external label. `Zone` sorts before `__name__`.
        'Zone=a,__name__=http_requests_total,cluster=eu-1,env=override,env_name=x;y,job=shop/api,otel_scope_name=lib,otel_scope_version=2',
        [
          [4, ms],
          [9, ms + 2],
        ],
      ],
      [
        '__name__=latency_seconds_bucket,cluster=eu-1,env=override,job=shop/api,le=0.1,otel_scope_name=lib,otel_scope_version=2',
        [[1, ms]],
      ],
      [
        '__name__=latency_seconds_bucket,cluster=eu-1,env=override,job=shop/api,le=1,otel_scope_name=lib,otel_scope_version=2',
        [[3, ms]],
      ],
      [
        '__name__=latency_seconds_bucket,cluster=eu-1,env=override,job=shop/api,le=+Inf,otel_scope_name=lib,otel_scope_version=2',
        [[6, ms]],
      ],
      [
        '__name__=latency_seconds_sum,cluster=eu-1,env=override,job=shop/api,otel_scope_name=lib,otel_scope_version=2',
        [[2.5, ms]],
      ],
      [
        '__name__=latency_seconds_count,cluster=eu-1,env=override,job=shop/api,otel_scope_name=lib,otel_scope_version=2',
        [[6, ms]],
      ],
      ['__name__=target_info,cluster=eu-1,env=override,host_name=h1,job=shop/api', [[1, ms + 2]]],
    ]);
    expect(points).toBe(3);
    expect(skipped).toEqual({ delta_temporality: 1 });
    expect(decoded.metadata).toEqual([
      { type: 1, family: 'http_requests_total', help: 'Requests served', unit: '' },
      { type: 3, family: 'latency_seconds', help: '', unit: 'seconds' },
    ]);
  });
});

describe('exponential histograms as classic buckets', () => {
  it('puts each bucket at its upper bound, zero bucket at its threshold, negatives mirrored', () => {
    // Scale 0: base 2, positive bucket i covers (2^i, 2^(i+1)].
    const classic = exponentialAsClassic(
      {
        scale: 0,
        zeroCount: 1,
        zeroThreshold: 0,
        positive: { offset: 1, bucketCounts: [3n, 0n, 2n] }, // (2,4], (4,8], (8,16]
        negative: { offset: 0, bucketCounts: [4n] }, // [-2, -1)
      },
      32,
    );
    expect(classic).toEqual({ bounds: [-1, 0, 4, 16], counts: [4, 1, 3, 2] });
  });

  it('lowers the scale until the buckets fit, keeping every count', () => {
    const counts = Array.from({ length: 40 }, (_, k) => BigInt(k + 1));
    const classic = exponentialAsClassic(
      { scale: 3, zeroCount: 0, zeroThreshold: 0, positive: { offset: 5, bucketCounts: counts } },
      8,
    );
    expect(classic.bounds.length - 1).toBeLessThanOrEqual(8);
    expect(classic.counts.reduce((a, b) => a + b, 0)).toBe(820);
    // Still ascending, and the last bound covers the largest original bucket's upper bound.
    expect([...classic.bounds].sort((a, b) => a - b)).toEqual(classic.bounds);
    expect(classic.bounds.at(-1)).toBeGreaterThanOrEqual(2 ** (45 / 8));
  });

  it('writes them as _bucket series in remote write, or drops them with a count', () => {
    const batch = new MetricBatch();
    const m = batch.addMetric(batch.addScope(batch.addResource()), {
      name: 'payload',
      type: MetricType.ExponentialHistogram,
      temporality: Temporality.Cumulative,
      unit: 'By',
    });
    batch.addExponentialHistogramPoint(batch.series(m, {}), {
      startTime: 1n,
      time: 2_000_000n,
      count: 5,
      sum: 40,
      scale: 0,
      zeroCount: 0,
      positive: { offset: 2, bucketCounts: [5] }, // (4, 8]
    });
    const names = (mode: 'classic' | 'drop') => {
      const { request, skipped } = batchToRemoteWrite(batch, {
        ...options,
        targetInfo: false,
        exponentialHistograms: mode,
      });
      return {
        series: request.timeseries.map((s) =>
          s.labels
            .filter(([k]) => k === '__name__' || k === 'le')
            .map(([, v]) => v)
            .join(' '),
        ),
        skipped,
      };
    };
    expect(names('classic')).toEqual({
      series: [
        'payload_bytes_bucket 0',
        'payload_bytes_bucket 8',
        'payload_bytes_bucket +Inf',
        'payload_bytes_sum',
        'payload_bytes_count',
      ],
      skipped: {},
    });
    expect(names('drop')).toEqual({ series: [], skipped: { exponential_histogram: 1 } });
  });
});

describe('sluice remote-writing into sluice', () => {
  let receiving: Collector | undefined;
  let sending: Collector | undefined;
  let sink: OtlpSink | undefined;
  afterEach(async () => {
    await sending?.shutdown(2_000);
    await receiving?.shutdown(2_000);
    await sink?.stop();
  });

  it('arrives as OTLP with the same values, and the delta point is counted as rejected', async () => {
    sink = new OtlpSink();
    await sink.start();
    const receiver = await remoteWriteInto(sink.url);
    receiving = receiver.collector;
    sending = await otlpInto(
      'prometheusremotewrite',
      `    endpoint: ${receiver.writeUrl}
    batch: { flush_interval: 10ms }`,
    );
    const exporter = sending.exporters.get('prometheusremotewrite') as QueuedExporter;
    await exporter.consume(sampleBatch());
    await exporter.engine.forceFlush();
    expect(exporter.engine.stats.sent).toBe(3);
    expect(exporter.engine.stats.rejected).toBe(1);
    const until = Date.now() + 5_000;
    while (sink.accepted.length === 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 10));
    const metrics = sink.accepted.flatMap((r) =>
      r.request.resourceMetrics.flatMap((rm: any) =>
        rm.scopeMetrics.flatMap((sm: any) => sm.metrics),
      ),
    );
    // The receiver reads `_total` as the counter suffix, as the Collector's receivers do.
    const requests = metrics.find((m: any) => m.name === 'http_requests');
    expect(requests.sum.dataPoints.map((p: any) => p.asDouble)).toEqual([4, 9]);
    const latency = metrics.find((m: any) => m.name === 'latency_seconds');
    expect(latency.histogram.dataPoints[0]).toMatchObject({
      count: '6',
      sum: 2.5,
      bucketCounts: ['1', '2', '3'],
      explicitBounds: [0.1, 1],
    });
  });
});

describe('prometheusremotewrite requests', () => {
  it('carry summaries as quantile series, the bearer token, custom and remote-write headers', async () => {
    const seen: { headers: Record<string, unknown>; body: Buffer }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const collector = await otlpInto(
      'prometheusremotewrite',
      `    endpoint: http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write
    bearer_token: t0k3n
    headers: { X-Scope-OrgID: tenant-7 }
    target_info: { enabled: false }`,
    );
    try {
      const batch = new MetricBatch();
      const m = batch.addMetric(batch.addScope(batch.addResource()), {
        name: 'rpc.latency',
        type: MetricType.Summary,
        unit: 's',
      });
      batch.addSummaryPoint(batch.series(m, {}), {
        startTime: 1n,
        time: 3_000_000n,
        count: 10,
        sum: 4,
        quantiles: [
          { quantile: 0.5, value: 0.3 },
          { quantile: 0.99, value: 1.2 },
        ],
      });
      const exporter = collector.exporters.get('prometheusremotewrite') as QueuedExporter;
      await exporter.consume(batch);
      await exporter.engine.forceFlush();
    } finally {
      await collector.shutdown(2_000);
      await new Promise((resolve) => server.close(resolve));
    }
    expect(seen).toHaveLength(1);
    expect(seen[0].headers).toMatchObject({
      authorization: 'Bearer t0k3n',
      'x-scope-orgid': 'tenant-7',
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'x-prometheus-remote-write-version': '0.1.0',
    });
    const request = decodeWriteRequest(uncompressSync(seen[0].body) as Buffer);
    expect(
      request.timeseries.map((t) => [
        t.labels.map(([k, v]) => `${k}=${v}`).join(','),
        t.samples[0].value,
      ]),
    ).toEqual([
      ['__name__=rpc_latency_seconds,quantile=0.5', 0.3],
      ['__name__=rpc_latency_seconds,quantile=0.99', 1.2],
      ['__name__=rpc_latency_seconds_sum', 4],
      ['__name__=rpc_latency_seconds_count', 10],
    ]);
  });
});
