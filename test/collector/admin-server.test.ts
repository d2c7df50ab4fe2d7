import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { compressSync } from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeWriteRequest } from '../../src/codec/prometheus/remote-write.js';
import { AdminServer } from '../../src/collector/admin-server.js';
import { Collector } from '../../src/collector/collector.js';
import { parseConfig } from '../../src/collector/config/load-config.js';
import { encodeMetricsRequest, MetricBatch, MetricType, Temporality } from '../../src/index.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';
import { counterBatch, monotonicSums } from '../helpers/batches.js';
import { otlpHttpUrl, otlpInto, startCollector } from '../helpers/collectors.js';

let collector: Collector | undefined;
let admin: AdminServer | undefined;

afterEach(async () => {
  await admin?.stop();
  await collector?.shutdown(200);
});

/** POSTs an OTLP protobuf body to the collector's OTLP/HTTP receiver; the status. */
async function post(body: Uint8Array): Promise<number> {
  const response = await fetch(otlpHttpUrl(collector!), {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf' },
    body,
  });
  return response.status;
}

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
    admin = new AdminServer({ address: '127.0.0.1:0' }, () => collector);
    await admin.start();

    expect(
      await post(
        encodeMetricsRequest(
          monotonicSums(
            Temporality.Delta,
            ['a', 'b', 'c'].map((series) => ({ series, start: 1n, time: 2n, value: 1 })),
          ),
        ),
      ),
    ).toBe(200);

    const metrics = await (await fetch(`http://${admin.address}/metrics`)).text();
    expect(metrics).toContain(
      'sluice_dropped_points_total{processor="deltatocumulative",reason="max_streams"} 2',
    );
  });

  it('tells memory apart: the V8 heap, Buffers outside it, and request buffers kept for reuse', async () => {
    collector = await otlpInto('debug', '    {}');
    admin = new AdminServer({ address: '127.0.0.1:0' }, () => collector);
    await admin.start();
    // A body past the request buffers' smallest size: read into one, given back once handled.
    const body = encodeMetricsRequest(counterBatch(2_000).batch);
    expect(body.length).toBeGreaterThan(64 * 1024);
    expect(await post(body)).toBe(200);

    const metrics = await (await fetch(`http://${admin.address}/metrics`)).text();
    const value = (name: string) => {
      const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
      if (!line) throw new Error(`no ${name} in /metrics`);
      return Number(line.split(' ')[1]);
    };
    const free = value('sluice_request_buffers_free_bytes');
    expect(free).toBeGreaterThanOrEqual(body.length);
    expect(value('sluice_process_array_buffer_bytes')).toBeGreaterThanOrEqual(free);
    expect(value('sluice_process_heap_total_bytes')).toBeGreaterThanOrEqual(
      value('sluice_process_heap_used_bytes'),
    );
    expect(value('sluice_process_resident_memory_bytes')).toBeGreaterThan(
      value('sluice_process_heap_used_bytes'),
    );
  });

  it('counts stored state a processor could not read and went on without', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'sluice-admin-state-'));
    const config = `
extensions:
  file_storage:
    directory: ${directory}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  deltatocumulative:
    storage: file_storage
exporters:
  debug: {}
service:
  extensions: [file_storage]
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [deltatocumulative]
      exporters: [debug]
`;
    const points = (time: bigint) =>
      encodeMetricsRequest(
        monotonicSums(Temporality.Delta, [{ series: 'a', start: time - 1n, time, value: 1 }]),
      );
    try {
      collector = await startCollector(config);
      expect(await post(points(2n))).toBe(200);
      await collector.shutdown(1000);
      // A journal entry cut off, as a crash in the middle of writing it leaves one.
      await appendFile(
        join(directory, 'processor_deltatocumulative', 'journal'),
        Buffer.alloc(9, 0x7f),
      );
      collector = await startCollector(config);
      admin = new AdminServer({ address: '127.0.0.1:0' }, () => collector);
      await admin.start();
      const metrics = await (await fetch(`http://${admin.address}/metrics`)).text();
      expect(metrics).toContain(
        'sluice_processor_state_unreadable_total{processor="deltatocumulative"} 1',
      );
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('reports every drop of every processor and exporter, by component and reason', async () => {
    collector = await startCollector(`
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  cumulativetodelta: {}
  cardinality_limit:
    max_series: 2
  filter:
    metrics:
      exclude:
        metric_names: [c]
        attributes: [{ key: s, value: z }]
exporters:
  debug: {}
  prometheus:
    endpoint: 127.0.0.1:0
service:
  pipelines:
    metrics/delta:
      receivers: [otlp]
      processors: [filter, cumulativetodelta]
      exporters: [debug]
    metrics/limited:
      receivers: [otlp]
      processors: [cardinality_limit]
      exporters: [prometheus]
`);
    admin = new AdminServer({ address: '127.0.0.1:0' }, () => collector);
    await admin.start();
    const send = async (temporality: Temporality, points: [string, bigint][]) => {
      const sums = monotonicSums(
        temporality,
        points.map(([series, time]) => ({ series, start: 1n, time, value: 1 })),
      );
      expect(await post(encodeMetricsRequest(sums))).toBe(200);
    };
    // Started before the processor: cumulativetodelta's initial_value (auto) drops a, b, c;
    // z is filtered; cardinality_limit admits a and merges b, c, z into the overflow series.
    await send(Temporality.Cumulative, [
      ['a', 2n],
      ['b', 2n],
      ['c', 2n],
      ['z', 2n],
    ]);
    await send(Temporality.Cumulative, [['a', 3n]]); // a delta: passed on
    await send(Temporality.Cumulative, [['b', 1n]]); // older than b's last: out of order
    // A delta exponential histogram has no Prometheus form: the prometheus exporter skips it.
    const histogram = new MetricBatch();
    const latency = histogram.addMetric(histogram.addScope(histogram.addResource()), {
      name: 'latency',
      type: MetricType.ExponentialHistogram,
      temporality: Temporality.Delta,
    });
    histogram.addExponentialHistogramPoint(histogram.series(latency, {}), {
      startTime: 1n,
      time: 2n,
      count: 1,
      scale: 0,
      zeroCount: 0,
      positive: { offset: 0, bucketCounts: [1] },
    });
    expect(await post(encodeMetricsRequest(histogram))).toBe(200);

    const metrics = await (await fetch(`http://${admin.address}/metrics`)).text();
    const dropped = metrics
      .split('\n')
      .filter((line) => line.startsWith('sluice_dropped_points_total{'))
      .sort();
    expect(dropped).toEqual([
      'sluice_dropped_points_total{exporter="prometheus",reason="delta_exponential_histogram"} 1',
      'sluice_dropped_points_total{processor="cardinality_limit",reason="cardinality_overflow"} 4',
      'sluice_dropped_points_total{processor="cumulativetodelta",reason="initial_value"} 3',
      'sluice_dropped_points_total{processor="cumulativetodelta",reason="out_of_order"} 1',
      'sluice_dropped_points_total{processor="filter",reason="filtered"} 1',
    ]);
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
    admin = new AdminServer({ address: '127.0.0.1:0' }, () => collector);
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

  it('reports every receiver: OTLP per protocol, remote write, with the fast path count', async () => {
    collector = await startCollector(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
  prometheusremotewrite:
    endpoint: 127.0.0.1:0
processors:
  aggregate:
    interval: 1h
    rules: [{ metrics: [c], drop_attributes: [s] }]
exporters:
  debug: {}
service:
  pipelines:
    metrics: { receivers: [otlp, prometheusremotewrite], processors: [aggregate], exporters: [debug] }
`);
    admin = new AdminServer({ address: '127.0.0.1:0' }, () => collector);
    await admin.start();
    const otlp = collector.receivers.get('otlp') as unknown as OtlpReceiver;
    for (const time of [2n, 3n]) {
      const response = await fetch(`http://${otlp.http!.address}/v1/metrics`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body: encodeMetricsRequest(
          monotonicSums(Temporality.Cumulative, [{ series: 'a', start: 1n, time, value: 1 }]),
        ),
      });
      expect(response.status).toBe(200);
    }
    const remoteWrite = collector.receivers.get('prometheusremotewrite') as unknown as {
      address: string;
    };
    const written = await fetch(`http://${remoteWrite.address}/api/v1/write`, {
      method: 'POST',
      headers: { 'content-encoding': 'snappy' },
      body: compressSync(
        Buffer.from(
          encodeWriteRequest({
            timeseries: [{ labels: [['__name__', 'up']], samples: [{ value: 1, timestampMs: 5 }] }],
            metadata: [],
          }),
        ),
      ),
    });
    expect(written.status).toBe(204);

    const metrics = await (await fetch(`http://${admin.address}/metrics`)).text();
    const value = (name: string, labels: string) =>
      Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    const otlpLabels = 'receiver="otlp",transport="http"';
    const rwLabels = 'receiver="prometheusremotewrite",transport="http"';
    expect(value('sluice_receiver_requests_total', otlpLabels)).toBe(2);
    expect(value('sluice_receiver_scanned_requests_total', otlpLabels)).toBe(1);
    expect(value('sluice_receiver_accepted_points_total', otlpLabels)).toBe(2);
    expect(value('sluice_receiver_requests_total', rwLabels)).toBe(1);
    expect(value('sluice_receiver_accepted_points_total', rwLabels)).toBe(1);
  });
});

describe('admin dashboard and its API', () => {
  it('serves the pipeline’s figures as JSON and Server-Sent Events, read-only, secrets redacted', async () => {
    collector = await startCollector(`
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  batch: { timeout: 50ms }
exporters:
  otlphttp:
    metrics_endpoint: http://user:hunter2@127.0.0.1:9/v1/metrics
    retry_on_failure: { enabled: false }
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp]
`);
    admin = new AdminServer({ address: '127.0.0.1:0', version: '9.9.9' }, () => collector);
    await admin.start();
    const batch = monotonicSums(
      Temporality.Cumulative,
      ['a', 'b', 'c'].map((series) => ({ series, start: 1n, time: 2n, value: 1 })),
    );
    expect(await post(encodeMetricsRequest(batch))).toBe(200);

    const response = await fetch(admin.url('/api/status'));
    const text = await response.text();
    expect(text).not.toContain('hunter2');
    const status = JSON.parse(text);
    expect(status.version).toBe('9.9.9');
    expect(status.pipelines).toEqual([
      { name: 'metrics', receivers: ['otlp'], processors: ['batch'], exporters: ['otlphttp'] },
    ]);
    expect(
      status.receivers.find((r: { transport: string }) => r.transport === 'http'),
    ).toMatchObject({ id: 'otlp', requests: 1, received: 3, accepted: 3 });
    expect(status.processors).toMatchObject([{ id: 'batch', pipeline: 'metrics', in: 3 }]);
    expect(status.exporters[0]).toMatchObject({
      id: 'otlphttp',
      delivery: { breaker: 'closed', destination: expect.stringContaining('<redacted>') },
    });
    expect(status.process.rssBytes).toBeGreaterThan(0);
    expect(status.cardinality.metrics).toEqual([
      expect.objectContaining({ metric: batch.metrics[0].name, series: 3 }),
    ]);
    const cardinality = (await (
      await fetch(admin.url(`/api/cardinality?metric=${batch.metrics[0].name}`))
    ).json()) as { attributes: { key: string }[] };
    expect(cardinality.attributes.map((a: { key: string }) => a.key)).toEqual(['s']);
    expect((await fetch(admin.url('/api/cardinality?metric=nope'))).status).toBe(404);

    // Server-Sent Events: a snapshot at once, then one a second.
    const events = await fetch(admin.url('/api/events'));
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = events.body!.getReader();
    const snapshots: { time: number }[] = [];
    let buffered = '';
    while (snapshots.length < 2) {
      const { value } = await reader.read();
      buffered += new TextDecoder().decode(value);
      for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        expect(event).toMatch(/^event: status\ndata: /);
        snapshots.push(JSON.parse(event.slice(event.indexOf('data: ') + 6)));
      }
    }
    await reader.cancel();
    expect(snapshots[1].time - snapshots[0].time).toBeGreaterThanOrEqual(900);

    // The pipeline's totals ride along, and the last seconds of them are kept for a page
    // that opens late.
    expect(status.totals).toEqual({ in: 3, sent: expect.any(Number), lost: 0 });
    const history = (await (await fetch(admin.url('/api/history'))).json()) as {
      time: number;
      in: number;
    }[];
    expect(history.length).toBeGreaterThanOrEqual(1);
    expect(history.at(-1)!.in).toBe(3);
    for (let k = 1; k < history.length; k++)
      expect(history[k].time).toBeGreaterThan(history[k - 1].time);

    // The page and its files; nothing else, and nothing but reads.
    const page = await fetch(admin.url('/'));
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await page.text()).toContain('/assets/dashboard.js');
    expect((await fetch(admin.url('/assets/uPlot.iife.min.js'))).status).toBe(200);
    expect((await fetch(admin.url('/assets/package.json'))).status).toBe(404);
    expect((await fetch(admin.url('/api/status'), { method: 'POST' })).status).toBe(405);
  });

  it('turns the cardinality explorer off when service.telemetry.cardinality.enabled is false', async () => {
    collector = await startCollector(`
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  debug: {}
service:
  telemetry:
    cardinality: { enabled: false }
  pipelines:
    metrics: { receivers: [otlp], exporters: [debug] }
`);
    admin = new AdminServer({ address: '127.0.0.1:0' }, () => collector);
    await admin.start();
    expect(collector.cardinality).toBeUndefined();
    for (const stats of Object.values(collector.receivers.get('otlp')!.statsByTransport))
      expect(stats.observer).toBeUndefined();
    const status = (await (await fetch(admin.url('/api/status'))).json()) as {
      cardinality?: unknown;
    };
    expect(status.cardinality).toBeUndefined();
    const off = await fetch(admin.url('/api/cardinality'));
    expect(off.status).toBe(404);
    expect(await off.text()).toContain('service.telemetry.cardinality');
  });
});
