import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import { Agent, request } from 'undici';
import { encodeMetricsRequest } from '../codec/protobuf/encode-request.js';
import { METRICS_EXPORT_METHOD } from '../codec/protobuf/service.js';
import { MetricBatch } from '../model/metric-batch.js';
import { MetricType, Temporality } from '../model/types.js';
import type { CliIo } from './io.js';

export interface LoadgenOptions {
  endpoint: string;
  protocol: 'http' | 'grpc';
  /** Distinct series (counters and 10-bucket histograms, half each). */
  series: number;
  /** Points per request. */
  batchPoints: number;
  /** Points per second to aim for (0: as fast as it goes). */
  rate: number;
  durationMs: number;
  concurrency: number;
}

export interface LoadgenResult {
  sentPoints: number;
  requests: number;
  failedRequests: number;
  statuses: Record<string, number>;
  seconds: number;
  pointsPerSecond: number;
}

const BOUNDS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500];

/** Request bodies cycling through `series` series, built once so the generator is cheap. */
function buildBodies(options: LoadgenOptions): Uint8Array[] {
  const bodies: Uint8Array[] = [];
  const perBody = options.batchPoints;
  const count = Math.max(1, Math.ceil(options.series / perBody));
  const now = BigInt(Date.now()) * 1_000_000n;
  for (let b = 0; b < count; b++) {
    const batch = new MetricBatch({ points: perBody });
    const scope = batch.addScope(
      batch.addResource({
        attributes: { 'service.name': 'loadgen', 'service.instance.id': `loadgen-${process.pid}` },
      }),
      { name: 'sluice.loadgen' },
    );
    const counter = batch.addMetric(scope, {
      name: 'loadgen.requests',
      type: MetricType.Sum,
      temporality: Temporality.Cumulative,
      monotonic: true,
    });
    const histogram = batch.addMetric(scope, {
      name: 'loadgen.duration',
      type: MetricType.Histogram,
      temporality: Temporality.Cumulative,
      unit: 'ms',
    });
    for (let k = 0; k < perBody; k++) {
      const s = (b * perBody + k) % options.series;
      const attributes = {
        'http.route': `/items/${s >> 1}`,
        'http.method': 'GET',
        'http.status_code': 200 + (s % 5),
        host: `h${s % 16}`,
        ok: s % 3 !== 0,
      };
      if (s % 2 === 0)
        batch.addNumberPoint(batch.series(counter, attributes), {
          startTime: now,
          time: now,
          value: s,
        });
      else
        batch.addHistogramPoint(batch.series(histogram, attributes), {
          startTime: now,
          time: now,
          count: 10,
          sum: 100,
          bounds: BOUNDS,
          bucketCounts: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        });
    }
    bodies.push(encodeMetricsRequest(batch));
  }
  return bodies;
}

/**
 * `sluice loadgen`: OTLP load against a collector, from prebuilt requests, with a progress
 * line per second. Bounded by `durationMs`; stops by itself.
 */
export async function runLoad(options: LoadgenOptions, io: CliIo): Promise<LoadgenResult> {
  const bodies = buildBodies(options);
  const result: LoadgenResult = {
    sentPoints: 0,
    requests: 0,
    failedRequests: 0,
    statuses: {},
    seconds: 0,
    pointsPerSecond: 0,
  };
  const started = performance.now();
  const until = started + options.durationMs;
  const agent = new Agent({ connections: options.concurrency, keepAliveTimeout: 30_000 });
  const Client = makeGenericClientConstructor({}, 'MetricsService');
  const grpc =
    options.protocol === 'grpc'
      ? new Client(options.endpoint.replace(/^https?:\/\//, ''), credentials.createInsecure())
      : undefined;
  let next = 0;
  let lastReport = started;
  let lastPoints = 0;

  const sendOne = async (body: Uint8Array): Promise<string> => {
    if (grpc) {
      return new Promise((resolve) => {
        grpc.makeUnaryRequest(
          METRICS_EXPORT_METHOD,
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(body.buffer, body.byteOffset, body.byteLength),
          (error) => resolve(error ? `grpc ${error.code}` : 'ok'),
        );
      });
    }
    const response = await request(options.endpoint, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-protobuf' },
      dispatcher: agent,
    });
    await response.body.arrayBuffer();
    return response.statusCode === 200 ? 'ok' : `http ${response.statusCode}`;
  };

  const worker = async () => {
    while (performance.now() < until) {
      if (options.rate > 0) {
        const due = started + (result.sentPoints / options.rate) * 1000;
        const wait = due - performance.now();
        if (wait > 0)
          await new Promise((resolve) =>
            setTimeout(resolve, Math.min(wait, until - performance.now())),
          );
        if (performance.now() >= until) break;
      }
      const body = bodies[next++ % bodies.length];
      let status: string;
      try {
        status = await sendOne(body);
      } catch (err) {
        status = (err as { code?: string }).code ?? 'error';
      }
      result.requests++;
      result.statuses[status] = (result.statuses[status] ?? 0) + 1;
      if (status === 'ok') result.sentPoints += options.batchPoints;
      else result.failedRequests++;
      const now = performance.now();
      if (now - lastReport >= 1000) {
        io.out(
          `loadgen: ${Math.round(((result.sentPoints - lastPoints) * 1000) / (now - lastReport))} points/s, ${result.sentPoints} sent, ${result.failedRequests} failed requests`,
        );
        lastReport = now;
        lastPoints = result.sentPoints;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  await agent.close();
  grpc?.close();
  result.seconds = (performance.now() - started) / 1000;
  result.pointsPerSecond = Math.round(result.sentPoints / result.seconds);
  return result;
}
