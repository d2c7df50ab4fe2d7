import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runLoad } from '../../src/cli/loadgen.js';
import { GrpcSink } from '../helpers/grpc-sink.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

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
        (m: any) => (m.sum ?? m.histogram).dataPoints,
      );
      const distinct = new Set(points.map((p: any) => p.timeUnixNano));
      expect(distinct.size).toBe(1);
      expect(points.every((p: any) => BigInt(p.timeUnixNano) > BigInt(p.startTimeUnixNano))).toBe(
        true,
      );
      return BigInt(points[0].timeUnixNano);
    });
    expect(times.length).toBeGreaterThan(5);
    expect(new Set(times).size).toBe(times.length);
    const nowNanos = BigInt(Date.now()) * 1_000_000n;
    expect(times.every((t) => t <= nowNanos && t > nowNanos - 10_000_000_000n)).toBe(true);
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
  });
});
