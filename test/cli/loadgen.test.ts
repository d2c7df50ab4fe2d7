import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSummary, runLoad } from '../../src/cli/loadgen.js';
import { decodeMetricsRequest } from '../../src/codec/protobuf/decode-request.js';
import { GrpcSink } from '../helpers/grpc-sink.js';
import { OtlpSink } from '../helpers/otlp-sink.js';
import { GrpcRecorder } from '../helpers/raw-grpc.js';

const io = { out: () => {}, err: () => {} };
let http: OtlpSink;
let grpc: GrpcSink;
let grpcEndpoint: string;

beforeEach(async () => {
  http = new OtlpSink();
  await http.start();
  grpc = new GrpcSink();
  grpcEndpoint = await grpc.start();
});
afterEach(async () => {
  await http.stop();
  await grpc.stop();
});

describe('sluice loadgen', () => {
  it('sends valid OTLP over HTTP and stops by itself; every point it counts arrived', async () => {
    const result = await runLoad(
      {
        endpoint: http.url,
        protocol: 'http',
        series: 500,
        batchPoints: 100,
        rate: 0,
        durationMs: 300,
        concurrency: 2,
      },
      io,
    );
    expect(result.sentPoints).toBeGreaterThan(0);
    expect(result.failedRequests).toBe(0);
    expect(http.accepted.reduce((n, r) => n + r.points, 0)).toBe(result.sentPoints);
    expect(result.seconds).toBeLessThan(2);
    // Every request carries the time it was sent in every point, after the points' start:
    // cumulative series move forward like a real app's instead of repeating one timestamp.
    const times = http.accepted.map((r) => {
      const points = r.request.resourceMetrics[0].scopeMetrics[0].metrics.flatMap(
        (m: any) => (m.sum ?? m.histogram ?? m.gauge).dataPoints,
      );
      const distinct = new Set(points.map((p: any) => p.timeUnixNano));
      expect(distinct.size).toBe(1);
      // Gauges have no start time.
      expect(
        points.every(
          (p: any) =>
            p.startTimeUnixNano === undefined ||
            BigInt(p.timeUnixNano) > BigInt(p.startTimeUnixNano),
        ),
      ).toBe(true);
      return BigInt(points[0].timeUnixNano);
    });
    expect(times.length).toBeGreaterThan(5);
    expect(new Set(times).size).toBe(times.length);
    const nowNanos = BigInt(Date.now()) * 1_000_000n;
    expect(times.every((t) => t <= nowNanos && t > nowNanos - 10_000_000_000n)).toBe(true);
  });

  it('sends gzip bodies when asked, over HTTP and gRPC; every point it counts arrived', async () => {
    const load = {
      series: 200,
      batchPoints: 100,
      rate: 0,
      durationMs: 200,
      concurrency: 2,
      compression: 'gzip' as const,
    };
    const overHttp = await runLoad({ ...load, endpoint: http.url, protocol: 'http' }, io);
    expect(overHttp.failedRequests).toBe(0);
    expect(http.accepted.length).toBeGreaterThan(0);
    expect(http.accepted.every((r) => r.contentEncoding === 'gzip')).toBe(true);
    expect(http.accepted.reduce((n, r) => n + r.points, 0)).toBe(overHttp.sentPoints);
    // Over gRPC into a bare HTTP/2 server that keeps each call as it came.
    const recorder = new GrpcRecorder();
    try {
      const endpoint = await recorder.start();
      const overGrpc = await runLoad({ ...load, endpoint, protocol: 'grpc' }, io);
      expect(overGrpc.failedRequests).toBe(0);
      expect(recorder.calls).toHaveLength(overGrpc.requests);
      // Each call says gzip, its message is flagged compressed (the prefix's first byte) and
      // gzip inside.
      expect(recorder.calls.every((call) => call.headers['grpc-encoding'] === 'gzip')).toBe(true);
      expect(recorder.calls.every((call) => call.frame[0] === 1)).toBe(true);
      const points = recorder.calls.reduce(
        (n, call) => n + decodeMetricsRequest(gunzipSync(call.frame.subarray(5))).pointCount,
        0,
      );
      expect(points).toBe(overGrpc.sentPoints);
    } finally {
      await recorder.stop();
    }
  });

  it('sends zstd bodies over HTTP when asked, and refuses zstd over gRPC', async () => {
    const load = { series: 200, batchPoints: 100, rate: 0, durationMs: 200, concurrency: 2 };
    const result = await runLoad(
      { ...load, endpoint: http.url, protocol: 'http', compression: 'zstd' },
      io,
    );
    expect(result.failedRequests).toBe(0);
    expect(http.accepted.length).toBeGreaterThan(0);
    expect(http.accepted.every((r) => r.contentEncoding === 'zstd')).toBe(true);
    expect(http.accepted.reduce((n, r) => n + r.points, 0)).toBe(result.sentPoints);
    await expect(
      runLoad({ ...load, endpoint: '127.0.0.1:1', protocol: 'grpc', compression: 'zstd' }, io),
    ).rejects.toThrow(/compression: expected none or gzip with protocol grpc, got "?zstd/);
  });

  it('holds a rate', async () => {
    const result = await runLoad(
      {
        endpoint: http.url,
        protocol: 'http',
        series: 100,
        batchPoints: 100,
        rate: 2000,
        durationMs: 1000,
        concurrency: 1,
      },
      io,
    );
    expect(result.sentPoints).toBeGreaterThanOrEqual(1500);
    expect(result.sentPoints).toBeLessThanOrEqual(2200);
  });

  it('speaks OTLP/gRPC', async () => {
    const result = await runLoad(
      {
        endpoint: grpcEndpoint,
        protocol: 'grpc',
        series: 50,
        batchPoints: 50,
        rate: 0,
        durationMs: 200,
        concurrency: 2,
      },
      io,
    );
    expect(result.sentPoints).toBeGreaterThan(0);
    expect(grpc.ids.length).toBe(0); // loadgen points carry no `id` attribute
    expect(grpc.requests).toBe(result.requests);
    // A refusal is counted with its gRPC status (read from the trailers), not as sent.
    grpc.reply = (index) => (index % 2 === 0 ? { code: 8, details: 'full' } : {});
    const refused = await runLoad(
      {
        endpoint: grpcEndpoint,
        protocol: 'grpc',
        series: 50,
        batchPoints: 50,
        rate: 0,
        durationMs: 200,
        concurrency: 1,
      },
      io,
    );
    expect(refused.statuses['grpc 8']).toBeGreaterThan(0);
    expect(refused.statuses.ok).toBeGreaterThan(0);
    expect(refused.failedRequests).toBe(refused.statuses['grpc 8']);
    expect(refused.sentPoints).toBe(refused.statuses.ok * 50);
  });

  it('moves its data as an app would: counters grow, gauges move, histograms fill consistently', async () => {
    const options = {
      endpoint: http.url,
      protocol: 'http' as const,
      series: 40,
      batchPoints: 40,
      rate: 400,
      durationMs: 1200,
      concurrency: 1,
    };
    const result = await runLoad(options, io);
    expect(result.failedRequests).toBe(0);
    // Each request holds all 40 series: follow every series from request to request.
    const bySeries = new Map<string, any[]>();
    for (const { request } of http.accepted) {
      for (const metric of request.resourceMetrics[0].scopeMetrics[0].metrics) {
        const data = metric.sum ?? metric.histogram ?? metric.gauge;
        for (const point of data.dataPoints) {
          const key = `${metric.name} ${JSON.stringify(point.attributes)}`;
          bySeries.set(key, [...(bySeries.get(key) ?? []), point]);
        }
      }
    }
    expect(bySeries.size).toBe(40);
    const kinds = { counter: 0, gauge: 0, histogram: 0 };
    for (const [key, points] of bySeries) {
      expect(points.length).toBeGreaterThan(5);
      if (key.startsWith('loadgen.requests')) {
        kinds.counter++;
        const values = points.map((p) => p.asDouble);
        for (let k = 1; k < values.length; k++)
          expect(values[k]).toBeGreaterThanOrEqual(values[k - 1]);
        expect(values.at(-1)).toBeGreaterThan(values[0]);
      } else if (key.startsWith('loadgen.queue.depth')) {
        kinds.gauge++;
        expect(new Set(points.map((p) => p.asDouble)).size).toBeGreaterThan(1);
      } else {
        kinds.histogram++;
        for (const p of points) {
          const buckets = p.bucketCounts.map(Number);
          expect(buckets.reduce((a: number, b: number) => a + b, 0)).toBe(Number(p.count));
        }
        expect(Number(points.at(-1).count)).toBeGreaterThan(Number(points[0].count));
        expect(points.at(-1).sum).toBeGreaterThan(points[0].sum);
      }
    }
    expect(kinds).toEqual({ counter: 18, gauge: 2, histogram: 20 });
    const summary = loadSummary(options, result);
    expect(summary).toMatch(/^endpoint\s+http:\/\/127\.0\.0\.1:\d+\/v1\/metrics \(http\)$/m);
    expect(summary).toMatch(new RegExp(`^points sent\\s+${result.sentPoints}$`, 'm'));
    expect(summary).toMatch(/^request latency\s+p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms$/m);
    expect(summary).toMatch(new RegExp(`^answered ok\\s+${result.requests}$`, 'm'));
  });

  it('churns series: a tenth of them replaced each period, told apart by loadgen.generation', async () => {
    const result = await runLoad(
      {
        endpoint: http.url,
        protocol: 'http',
        series: 100,
        batchPoints: 10,
        rate: 2000,
        durationMs: 700,
        concurrency: 1,
        churnMs: 200,
      },
      io,
    );
    const generations = new Set<number>();
    const series = new Set<string>();
    for (const { request } of http.accepted)
      for (const metric of request.resourceMetrics[0].scopeMetrics[0].metrics)
        for (const point of (metric.sum ?? metric.histogram ?? metric.gauge).dataPoints) {
          series.add(`${metric.name} ${JSON.stringify(point.attributes)}`);
          const generation = point.attributes.find((a: any) => a.key === 'loadgen.generation');
          generations.add(Number(generation?.value.intValue ?? 0));
        }
    expect([...generations].sort()).toEqual(expect.arrayContaining([0, 1, 2]));
    expect(series.size).toBeGreaterThan(100);
    expect(result.seriesSent).toBeGreaterThanOrEqual(series.size);
  });
});
