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
  /**
   * A cardinality bomb: this many more counter series on one route, told apart only by a
   * `user.id` attribute with as many distinct values — what an instrumentation mistake
   * does to a metric, for the dashboard's cardinality explorer to find.
   */
  cardinalityBomb?: number;
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
}

const BOUNDS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500];

/** A prebuilt request and where its points' `time_unix_nano` words are. */
interface Body {
  bytes: Uint8Array;
  timeOffsets: number[];
}

/**
 * Request bodies cycling through `series` series, built once so the generator is cheap.
 * Each send stamps the current time into the points (see `stampTime`): cumulative series
 * that repeat one timestamp would be stale after their first point, and a collector would
 * rightly skip most of its work on them.
 */
function buildBodies(options: LoadgenOptions): Body[] {
  const bodies: Body[] = [];
  const perBody = options.batchPoints;
  const bomb = options.cardinalityBomb ?? 0;
  const total = options.series + bomb;
  const count = Math.max(1, Math.ceil(total / perBody));
  const now = BigInt(Date.now()) * 1_000_000n;
  // Point times start one nanosecond after the start times, so their bytes can be told apart.
  const time = now + 1n;
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
      const s = (b * perBody + k) % total;
      if (s >= options.series) {
        batch.addNumberPoint(
          batch.series(counter, {
            'http.route': '/login',
            'http.method': 'POST',
            'http.status_code': 200,
            host: `h${s % 16}`,
            'user.id': `u${s - options.series}`,
          }),
          { startTime: now, time, value: s },
        );
        continue;
      }
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
          time,
          value: s,
        });
      else
        batch.addHistogramPoint(batch.series(histogram, attributes), {
          startTime: now,
          time,
          count: 10,
          sum: 100,
          bounds: BOUNDS,
          bucketCounts: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        });
    }
    const bytes = encodeMetricsRequest(batch);
    bodies.push({ bytes, timeOffsets: offsetsOf(bytes, time) });
  }
  return bodies;
}

/** Where the little-endian u64 `value` occurs in `bytes`. */
function offsetsOf(bytes: Uint8Array, value: bigint): number[] {
  const pattern = new Uint8Array(8);
  new DataView(pattern.buffer).setBigUint64(0, value, true);
  const haystack = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets: number[] = [];
  for (let at = haystack.indexOf(pattern); at !== -1; at = haystack.indexOf(pattern, at + 8)) {
    offsets.push(at);
  }
  return offsets;
}

/** Writes `nanos` into every point time of `body` (concurrent sends of it see either). */
function stampTime(body: Body, nanos: bigint): void {
  const view = new DataView(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength);
  const low = Number(nanos & 0xffffffffn);
  const high = Number(nanos >> 32n);
  for (const at of body.timeOffsets) {
    view.setUint32(at, low, true);
    view.setUint32(at + 4, high, true);
  }
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
      stampTime(body, BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)));
      let status: string;
      try {
        status = await sendOne(body.bytes);
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
