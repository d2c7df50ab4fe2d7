import { gzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { compress as zstdCompress } from 'zstd-napi';
import { METRICS_EXPORT_METHOD } from '../codec/protobuf/service.js';
import { InvalidArgumentError } from '../model/errors.js';
import { GrpcUnaryClient } from '../net/grpc-unary-client.js';
import type { CliIo } from './io.js';
import { type BodyPlan, buildBody, type LoadBody } from './loadgen-bodies.js';

/** How loadgen compresses its requests. */
export type LoadCompression = 'none' | 'gzip' | 'zstd';

export interface LoadgenOptions {
  endpoint: string;
  protocol: 'http' | 'grpc';
  /**
   * Distinct series: half 10-bucket histograms, the rest counters and one in ten of those
   * a gauge. Every send moves them as an app's would: counters grow, gauges wave,
   * histograms take new observations.
   */
  series: number;
  /** Points per request. */
  batchPoints: number;
  /** Points per second to aim for (0: as fast as it goes). */
  rate: number;
  durationMs: number;
  concurrency: number;
  /**
   * A cardinality bomb: this many more counter series on one route, told apart only by a
   * `user.id` attribute with as many distinct values — what an instrumentation mistake
   * does to a metric, for the dashboard's cardinality explorer to find.
   */
  cardinalityBomb?: number;
  /**
   * Series churn: every this many milliseconds a tenth of the series is replaced by new
   * ones (a `loadgen.generation` attribute changes), as pods that restart do.
   */
  churnMs?: number;
  /**
   * Compresses every request, as the Collector's exporters and most SDKs send: gzip (level
   * 1), or zstd (level 3, over HTTP only: gRPC clients compress with gzip). The receiver
   * then inflates each body. None by default.
   */
  compression?: LoadCompression;
  /** Stops the load early. */
  signal?: AbortSignal;
}

export interface LoadgenResult {
  sentPoints: number;
  requests: number;
  failedRequests: number;
  statuses: Record<string, number>;
  seconds: number;
  pointsPerSecond: number;
  /** Distinct series sent, churned ones included. */
  seriesSent: number;
  /** Request round trips, milliseconds: median, 99th percentile and the slowest. */
  latencyMs: { p50: number; p99: number; max: number };
}

/**
 * `sluice loadgen`: OTLP load against a collector, from prebuilt requests, with a progress
 * line per second. Bounded by `durationMs`; stops by itself.
 */
export async function runLoad(options: LoadgenOptions, io: CliIo): Promise<LoadgenResult> {
  if (options.protocol === 'grpc' && options.compression === 'zstd') {
    throw new InvalidArgumentError('compression', 'zstd', 'none or gzip with protocol grpc');
  }
  const plan: BodyPlan = {
    series: options.series,
    batchPoints: options.batchPoints,
    cardinalityBomb: options.cardinalityBomb ?? 0,
    instance: `loadgen-${process.pid}`,
  };
  const startNanos = BigInt(Date.now()) * 1_000_000n;
  const bodyCount = Math.max(1, Math.ceil((plan.series + plan.cardinalityBomb) / plan.batchPoints));
  const bodies: LoadBody[] = Array.from({ length: bodyCount }, (_, b) =>
    buildBody(plan, b, 0, startNanos),
  );
  const result: LoadgenResult = {
    sentPoints: 0,
    requests: 0,
    failedRequests: 0,
    statuses: {},
    seconds: 0,
    pointsPerSecond: 0,
    seriesSent: Math.min(bodyCount * plan.batchPoints, plan.series + plan.cardinalityBomb),
    latencyMs: { p50: 0, p99: 0, max: 0 },
  };
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + options.durationMs;
  const agent = new Agent({ connections: options.concurrency, keepAliveTimeout: 30_000 });
  const grpc =
    options.protocol === 'grpc'
      ? new GrpcUnaryClient({ endpoint: `http://${options.endpoint.replace(/^https?:\/\//, '')}` })
      : undefined;
  let next = 0;
  let lastReport = started;
  let lastPoints = 0;
  let generation = 0;
  const churn =
    options.churnMs && options.churnMs > 0
      ? setInterval(() => {
          // A tenth of the bodies, in turn, get the next generation: new series.
          generation++;
          for (let b = generation % 10; b < bodies.length; b += 10) {
            bodies[b] = buildBody(plan, b, generation, startNanos);
            result.seriesSent += bodies[b].points;
          }
        }, options.churnMs)
      : undefined;

  const compression = options.compression ?? 'none';
  const gzip = compression === 'gzip';
  const sendOne = async (message: Uint8Array): Promise<string> => {
    // Compressed here, per send: the values move with every one.
    const body = gzip
      ? gzipSync(message, { level: 1 })
      : compression === 'zstd'
        ? zstdCompress(message, { compressionLevel: 3 })
        : message;
    if (grpc) {
      const { code } = await grpc.call(METRICS_EXPORT_METHOD, body, { gzipped: gzip });
      return code === 0 ? 'ok' : `grpc ${code}`;
    }
    const response = await request(options.endpoint, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/x-protobuf',
        ...(compression !== 'none' ? { 'content-encoding': compression } : {}),
      },
      dispatcher: agent,
    });
    await response.body.arrayBuffer();
    return response.statusCode === 200 ? 'ok' : `http ${response.statusCode}`;
  };

  const worker = async () => {
    while (performance.now() < until && !options.signal?.aborted) {
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
      const sentAt = performance.now();
      body.advance(
        BigInt(Math.round((performance.timeOrigin + sentAt) * 1e6)),
        (sentAt - started) / 1000,
      );
      let status: string;
      body.sending++;
      try {
        status = await sendOne(body.bytes);
      } catch (err) {
        status = (err as { code?: string }).code ?? 'error';
      } finally {
        body.sending--;
      }
      recordLatency(latencies, performance.now() - sentAt, result.requests);
      result.requests++;
      result.statuses[status] = (result.statuses[status] ?? 0) + 1;
      if (status === 'ok') result.sentPoints += body.points;
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
  clearInterval(churn);
  await agent.close();
  await grpc?.close();
  result.seconds = (performance.now() - started) / 1000;
  result.pointsPerSecond = Math.round(result.sentPoints / result.seconds);
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    round2(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  result.latencyMs = { p50: at(0.5), p99: at(0.99), max: round2(latencies.at(-1) ?? 0) };
  return result;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const LATENCIES_KEPT = 100_000;

/** Keeps a uniform sample of at most `LATENCIES_KEPT` latencies (reservoir sampling). */
function recordLatency(kept: number[], ms: number, seen: number): void {
  if (kept.length < LATENCIES_KEPT) kept.push(ms);
  else {
    const slot = Math.floor(Math.random() * (seen + 1));
    if (slot < LATENCIES_KEPT) kept[slot] = ms;
  }
}

/** The end-of-run table `sluice loadgen` prints. */
export function loadSummary(options: LoadgenOptions, result: LoadgenResult): string {
  const rows: [string, string][] = [
    [
      'endpoint',
      `${options.endpoint} (${options.protocol}${options.compression && options.compression !== 'none' ? `, ${options.compression}` : ''})`,
    ],
    ['duration', `${result.seconds.toFixed(1)} s`],
    ['requests', `${result.requests} (${result.failedRequests} failed)`],
    ['points sent', String(result.sentPoints)],
    ['points/s', String(result.pointsPerSecond)],
    ['series', `${result.seriesSent}${options.churnMs ? ' (with churn)' : ''}`],
    [
      'request latency',
      `p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms`,
    ],
    ...Object.entries(result.statuses).map(([status, n]): [string, string] => [
      `answered ${status}`,
      String(n),
    ]),
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n');
}
