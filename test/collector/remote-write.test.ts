import pino from 'pino';
import { compressSync } from 'snappy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeWriteRequest,
  encodeWriteRequest,
  type WriteRequest,
} from '../../src/codec/prometheus/remote-write.js';
import { remoteWriteToBatch } from '../../src/codec/prometheus/remote-write-to-batch.js';
import { Collector } from '../../src/collector/collector.js';
import { parseConfig } from '../../src/collector/config/load-config.js';
import { MetricType, Temporality } from '../../src/index.js';
import type { RemoteWriteReceiver } from '../../src/receivers/prometheusremotewrite/remote-write-receiver.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

const T = 1_700_000_000_000;
const request: WriteRequest = {
  timeseries: [
    {
      labels: [
        ['__name__', 'http_requests_total'],
        ['job', 'shop/api'],
        ['instance', 'pod-1'],
        ['code', '200'],
      ],
      samples: [{ value: 42, timestampMs: T }],
    },
    {
      labels: [
        ['__name__', 'queue_depth'],
        ['job', 'shop/api'],
        ['instance', 'pod-1'],
      ],
      samples: [{ value: 7, timestampMs: T }],
    },
    {
      labels: [
        ['__name__', 'latency_seconds_bucket'],
        ['job', 'shop/api'],
        ['instance', 'pod-1'],
        ['le', '0.1'],
      ],
      samples: [{ value: 3, timestampMs: T }],
    },
    {
      labels: [
        ['__name__', 'latency_seconds_bucket'],
        ['job', 'shop/api'],
        ['instance', 'pod-1'],
        ['le', '1'],
      ],
      samples: [{ value: 5, timestampMs: T }],
    },
    {
      labels: [
        ['__name__', 'latency_seconds_bucket'],
        ['job', 'shop/api'],
        ['instance', 'pod-1'],
        ['le', '+Inf'],
      ],
      samples: [{ value: 6, timestampMs: T }],
    },
    {
      labels: [
        ['__name__', 'latency_seconds_sum'],
        ['job', 'shop/api'],
        ['instance', 'pod-1'],
      ],
      samples: [{ value: 2.5, timestampMs: T }],
    },
    {
      labels: [
        ['__name__', 'latency_seconds_count'],
        ['job', 'shop/api'],
        ['instance', 'pod-1'],
      ],
      samples: [{ value: 6, timestampMs: T }],
    },
    {
      labels: [
        ['__name__', 'rpc_seconds'],
        ['job', 'shop/api'],
        ['quantile', '0.5'],
      ],
      samples: [{ value: 0.2, timestampMs: T }],
    },
    {
      labels: [
        ['__name__', 'rpc_seconds_sum'],
        ['job', 'shop/api'],
      ],
      samples: [{ value: 10, timestampMs: T }],
    },
    {
      labels: [
        ['__name__', 'rpc_seconds_count'],
        ['job', 'shop/api'],
      ],
      samples: [{ value: 40, timestampMs: T }],
    },
  ],
  metadata: [{ type: 1, family: 'http_requests', help: 'Requests served', unit: '' }],
};

describe('Prometheus remote write → OTel', () => {
  it('round-trips the WriteRequest codec', () => {
    expect(decodeWriteRequest(encodeWriteRequest(request))).toEqual(request);
  });

  it('maps counters, gauges, classic histograms and summaries, with job/instance as the resource', () => {
    const batch = remoteWriteToBatch(request);
    const points = [...batch.pointViews()];
    const byName = new Map(points.map((p) => [p.metric.name, p]));
    const counter = byName.get('http_requests')!;
    expect(counter.metric).toMatchObject({
      type: MetricType.Sum,
      monotonic: true,
      temporality: Temporality.Cumulative,
      description: 'Requests served',
    });
    expect(counter.value).toBe(42);
    expect(counter.time).toBe(BigInt(T) * 1_000_000n);
    expect(counter.attributes).toEqual([{ key: 'code', value: '200' }]);
    expect(batch.resources[batch.scopes[counter.metric.scope].resource].attributes).toEqual([
      { key: 'service.namespace', value: 'shop' },
      { key: 'service.name', value: 'api' },
      { key: 'service.instance.id', value: 'pod-1' },
    ]);
    expect(byName.get('queue_depth')!.metric.type).toBe(MetricType.Gauge);
    const histogram = byName.get('latency_seconds')!;
    expect(histogram.metric.type).toBe(MetricType.Histogram);
    expect([...histogram.bounds]).toEqual([0.1, 1]);
    expect([...histogram.bucketCounts]).toEqual([3n, 2n, 1n]);
    expect([histogram.count, histogram.sum]).toEqual([6n, 2.5]);
    const summary = byName.get('rpc_seconds')!;
    expect(summary.metric.type).toBe(MetricType.Summary);
    expect(summary.quantiles).toEqual([{ quantile: 0.5, value: 0.2 }]);
    expect([summary.count, summary.sum]).toEqual([40n, 10]);
    expect(points).toHaveLength(4);
  });
});

describe('prometheusremotewrite receiver → collector → OTLP sink', () => {
  let sink: OtlpSink;
  let collector: Collector;
  beforeEach(async () => {
    sink = new OtlpSink();
    await sink.start();
    collector = new Collector(
      parseConfig(`
receivers:
  prometheusremotewrite:
    endpoint: 127.0.0.1:0
    max_request_body_size: 100000
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    batch:
      flush_interval: 5ms
service:
  pipelines:
    metrics:
      receivers: [prometheusremotewrite]
      exporters: [otlphttp]
`),
      pino({ level: 'silent' }),
    );
    await collector.start();
  });
  afterEach(async () => {
    await collector.shutdown(1_000);
    await sink.stop();
  });

  const url = () =>
    `http://${(collector.receivers.get('prometheusremotewrite') as unknown as RemoteWriteReceiver).address}/api/v1/write`;

  it('accepts snappy-compressed remote write with 204 and forwards OTLP', async () => {
    const response = await fetch(url(), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-protobuf',
        'content-encoding': 'snappy',
        'x-prometheus-remote-write-version': '0.1.0',
      },
      body: compressSync(Buffer.from(encodeWriteRequest(request))),
    });
    expect(response.status).toBe(204);
    const until = Date.now() + 5_000;
    while (sink.accepted.length === 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 10));
    const names = sink.accepted.flatMap((r) =>
      r.request.resourceMetrics.flatMap((rm: any) =>
        rm.scopeMetrics[0].metrics.map((m: any) => m.name),
      ),
    );
    expect(names.sort()).toEqual([
      'http_requests',
      'latency_seconds',
      'queue_depth',
      'rpc_seconds',
    ]);
  });

  it('refuses garbage with 400 and a snappy bomb with 413', async () => {
    const bad = await fetch(url(), {
      method: 'POST',
      headers: { 'content-encoding': 'snappy' },
      body: compressSync(Buffer.from([0x0a, 0xff])),
    });
    expect(bad.status).toBe(400);
    const bomb = compressSync(Buffer.alloc(500_000));
    expect(bomb.length).toBeLessThan(100_000);
    const big = await fetch(url(), {
      method: 'POST',
      headers: { 'content-encoding': 'snappy' },
      body: bomb,
    });
    expect(big.status).toBe(413);
  });
});
