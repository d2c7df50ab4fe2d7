import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EncodedRequest } from '../../src/codec/protobuf/encoded-request.js';
import {
  DeliveryEngine,
  type DeliveryOptions,
  decodeMetricsRequest,
  encodeMetricsRequest,
  listDeadLetters,
  MetricBatch,
  MetricType,
  OtlpHttpSender,
  QueueFullError,
  ShutdownError,
} from '../../src/index.js';
import { counterBatch } from '../helpers/batches.js';
import { OtlpSink, statusBody } from '../helpers/otlp-sink.js';

const quiet = pino({ level: 'silent' });
const fastRetry = { initialIntervalMs: 20, maxIntervalMs: 100, maxElapsedMs: 10_000 };

let sink: OtlpSink;
let dir: string;
const engines: DeliveryEngine[] = [];

beforeEach(async () => {
  sink = new OtlpSink();
  await sink.start();
  dir = await mkdtemp(join(tmpdir(), 'sluice-dlq-'));
});

afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.shutdown({ deadlineMs: 100 });
  await sink.stop();
  await rm(dir, { recursive: true, force: true });
});

function engine(options: Partial<DeliveryOptions> = {}, url = sink.url): DeliveryEngine {
  const created = new DeliveryEngine({
    sender: new OtlpHttpSender({ url }),
    retry: fastRetry,
    batch: { flushIntervalMs: 10 },
    deadLetterDir: dir,
    logger: quiet,
    ...options,
  });
  engines.push(created);
  return created;
}

/** A logger whose JSON lines are kept in `lines`. */
function capturingLogger(): { lines: string[]; logger: pino.Logger } {
  const lines: string[] = [];
  const logger = pino(
    new Writable({
      write: (chunk, _encoding, done) => {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  return { lines, logger };
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Ids of every point written to a dead letter in `dir`, decoded from the .binpb files. */
async function deadLetterIds(): Promise<string[]> {
  const ids: string[] = [];
  for (const record of await listDeadLetters(dir)) {
    const batch = decodeMetricsRequest(await readFile(join(dir, record.file)));
    for (const point of batch.pointViews())
      ids.push(String(point.attributes.find((a) => a.key === 'id')?.value));
  }
  return ids;
}

/** The invariant of every test: each accepted point was delivered or is in a dead letter, and the counters agree. */
async function expectNothingLost(e: DeliveryEngine, accepted: string[]): Promise<void> {
  const delivered = sink.deliveredIds();
  const dead = new Set(await deadLetterIds());
  const missing = accepted.filter((id) => !delivered.has(id) && !dead.has(id));
  expect(missing).toEqual([]);
  const s = e.stats;
  const deadLettered = Object.values(s.deadLettered).reduce((a, b) => a + b, 0);
  const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0);
  expect(s.accepted).toBe(accepted.length);
  expect(s.sent + s.rejected + deadLettered + dropped).toBe(s.accepted);
  expect(s.inFlight).toBe(0);
}

/** One point of gauge `depth` for series `queue` (its time is its value by default). */
function depthGauge(value: number, queue = 'a', time = BigInt(value)): MetricBatch {
  const batch = new MetricBatch();
  const scope = batch.addScope(batch.addResource());
  const m = batch.addMetric(scope, { name: 'depth', type: MetricType.Gauge });
  batch.addNumberPoint(batch.series(m, { queue }), { time, value });
  return batch;
}

/** The `depth` values the sink accepted, in the order it accepted them. */
function acceptedDepths(): number[] {
  return sink.accepted.map(
    (r) => r.request.resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asDouble,
  );
}

describe('DeliveryEngine over OTLP/HTTP', () => {
  it('delivers everything, merging small batches and splitting large ones to the limits', async () => {
    const e = engine({ batch: { maxPoints: 100, flushIntervalMs: 50 } });
    const ids: string[] = [];
    for (let k = 0; k < 30; k++) {
      const { batch, ids: batchIds } = counterBatch(10);
      ids.push(...batchIds);
      await e.consume(batch);
    }
    const big = counterBatch(450);
    ids.push(...big.ids);
    await e.consume(big.batch);
    await e.forceFlush();
    expect(sink.deliveredIds().size).toBe(ids.length);
    expect(Math.max(...sink.received.map((r) => r.points))).toBeLessThanOrEqual(100);
    expect(sink.received.length).toBeLessThan(20); // 750 points in ≥ 8 requests, not 31
    // Every point was delivered exactly once (split parts neither overlap nor leave gaps),
    // and the queue's accounting came back to zero.
    expect(sink.received.reduce((n, r) => n + r.points, 0)).toBe(ids.length);
    expect([e.queue.points, e.queue.bytes, e.queue.length]).toEqual([0, 0, 0]);
    await expectNothingLost(e, ids);
  });

  it('retries 503 after the Retry-After the backend asked for', async () => {
    const times: number[] = [];
    sink.reply = (_r, index) => {
      times.push(Date.now());
      return index === 0 ? { status: 503, headers: { 'retry-after': '1' } } : {};
    };
    const e = engine();
    const { batch, ids } = counterBatch(5);
    await e.consume(batch);
    await e.forceFlush();
    expect(sink.received).toHaveLength(2);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(950);
    expect(e.stats.retries).toBe(1);
    await expectNothingLost(e, ids);
  });

  it('retries 429 without Retry-After with backoff until it succeeds', async () => {
    sink.reply = (_r, index) => (index < 3 ? { status: 429 } : {});
    const e = engine();
    const { batch, ids } = counterBatch(5);
    await e.consume(batch);
    await e.forceFlush();
    expect(sink.received).toHaveLength(4);
    expect(e.stats.retries).toBe(3);
    expect(e.stats.sent).toBe(5);
    await expectNothingLost(e, ids);
  });

  it('writes a 400 to a dead letter at once, with the backend message in the sidecar', async () => {
    sink.reply = () => ({ status: 400, body: statusBody('metric name is invalid') });
    const e = engine();
    const { batch, ids } = counterBatch(7);
    await e.consume(batch);
    await e.forceFlush();
    expect(sink.received).toHaveLength(1);
    const [record] = await listDeadLetters(dir);
    expect(record).toMatchObject({
      reason: 'permanent',
      status: 400,
      points: 7,
      destination: sink.url,
    });
    expect(record.message).toContain('metric name is invalid');
    expect(record.file).toMatch(/permanent.*\.binpb$/);
    expect(e.stats.deadLettered).toEqual({ permanent: 7 });
    await expectNothingLost(e, ids);
  });

  it('dead-letters a point larger than batch.max_bytes as too_large instead of sending it', async () => {
    const e = engine({ batch: { maxBytes: 2048, flushIntervalMs: 10 } });
    const batch = new MetricBatch();
    const scope = batch.addScope(batch.addResource());
    const latency = batch.addMetric(scope, { name: 'latency', type: MetricType.Histogram });
    const small = batch.addMetric(scope, { name: 'up', type: MetricType.Gauge });
    const bounds = Array.from({ length: 400 }, (_, k) => k);
    batch.addHistogramPoint(batch.series(latency, { id: 'huge' }), {
      time: 1n,
      count: 0,
      bounds,
      bucketCounts: new Array(401).fill(0),
    });
    batch.addNumberPoint(batch.series(small, { id: 'small' }), { time: 1n, value: 1 });
    await e.consume(batch);
    await e.forceFlush();
    expect(sink.received.map((r) => r.ids)).toEqual([['small']]);
    const [record] = await listDeadLetters(dir);
    expect(record).toMatchObject({ reason: 'too_large', points: 1 });
    expect(record.message).toMatch(/over batch\.max_bytes \(2048\)/);
    expect(await deadLetterIds()).toEqual(['huge']);
    expect(e.stats.sent).toBe(1);
  });

  it('counts and logs what it cannot deliver when no dead-letter directory is set', async () => {
    sink.reply = () => ({ status: 413, body: 'too large' });
    const { lines, logger } = capturingLogger();
    const e = engine({ deadLetterDir: undefined, logger });
    const { batch } = counterBatch(3);
    await e.consume(batch);
    await e.forceFlush();
    expect(e.stats.dropped).toEqual({ permanent: 3 });
    const logged = lines.map((l) => JSON.parse(l)).find((l) => l.reason === 'permanent');
    expect(logged).toMatchObject({ level: 50, points: 3, status: 413 });
    expect(logged.msg).toContain('no dead_letter_dir configured');
  });

  it('never logs or shows the password of a URL it sends to', async () => {
    sink.reply = () => ({ status: 413, body: 'too large' });
    const { lines, logger } = capturingLogger();
    const withPassword = sink.url.replace('http://', 'http://user:hunter2@');
    const e = engine({ deadLetterDir: undefined, logger }, withPassword);
    await e.consume(counterBatch(3).batch);
    await e.forceFlush();
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('')).not.toContain('hunter2');
    expect(e.destination).toBe(withPassword.replace('hunter2', '<redacted>'));
  });

  it('survives connection refused and delivers once the backend comes up', async () => {
    const port = sink.port;
    await sink.stop();
    // Refusals are fast: the breaker opens within the 150 ms; let it probe again soon.
    const e = engine(
      { circuitBreaker: { resetTimeoutMs: 100 } },
      `http://127.0.0.1:${port}/v1/metrics`,
    );
    const { batch, ids } = counterBatch(4);
    await e.consume(batch);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(e.stats.retries).toBeGreaterThan(0);
    await sink.start(port);
    await e.forceFlush();
    expect(sink.deliveredIds().size).toBe(4);
    await expectNothingLost(e, ids);
  });

  it('times out a hanging backend and retries', async () => {
    sink.reply = (_r, index) => (index === 0 ? { delayMs: 1000 } : {});
    const e = engine({ timeoutMs: 200 });
    const { batch, ids } = counterBatch(3);
    await e.consume(batch);
    await e.forceFlush();
    expect(e.stats.retries).toBeGreaterThanOrEqual(1);
    expect(e.stats.sent).toBe(3);
    await expectNothingLost(e, ids);
  });

  it('counts a partial success as rejected points and does not retry it', async () => {
    const partial = Uint8Array.from([0x0a, 0x08, 0x08, 0x02, 0x12, 0x04, ...Buffer.from('dups')]);
    sink.reply = () => ({ body: partial });
    const e = engine();
    const { batch } = counterBatch(6);
    await e.consume(batch);
    await e.forceFlush();
    expect(sink.received).toHaveLength(1);
    expect(e.stats.rejected).toBe(2);
    expect(e.stats.sent).toBe(4);
  });

  it('keeps numConsumers requests in flight against a slow backend', async () => {
    sink.reply = () => ({ delayMs: 150 });
    const e = engine({ numConsumers: 4, batch: { maxPoints: 10, flushIntervalMs: 5 } });
    const ids: string[] = [];
    for (let k = 0; k < 12; k++) {
      const { batch, ids: batchIds } = counterBatch(10);
      ids.push(...batchIds);
      await e.consume(batch);
    }
    await e.forceFlush();
    expect(sink.maxInFlight).toBe(4);
    await expectNothingLost(e, ids);
  });

  it('delivers points of one series in order even while an earlier request is retried', async () => {
    // The first request fails once; the later values of the same series must wait for it.
    sink.reply = (_r, index) =>
      index === 0 ? { status: 503, headers: { 'retry-after': '0' }, delayMs: 50 } : {};
    const e = engine({ numConsumers: 4, batch: { maxPoints: 1, flushIntervalMs: 1 } });
    for (let value = 1; value <= 6; value++) {
      await e.consume(depthGauge(value));
    }
    await e.forceFlush();
    const values = acceptedDepths();
    expect(values).toEqual([1, 2, 3, 4, 5, 6]);
    expect(e.stats.retries).toBe(1);
  });

  it('without ordering, later requests overtake a retried one', async () => {
    sink.reply = (_r, index) =>
      index === 0 ? { status: 503, headers: { 'retry-after': '0' }, delayMs: 50 } : {};
    const e = engine({
      ordering: 'none',
      numConsumers: 4,
      batch: { maxPoints: 1, flushIntervalMs: 1 },
    });
    for (let value = 1; value <= 6; value++) {
      await e.consume(depthGauge(value));
    }
    await e.forceFlush();
    const values = acceptedDepths();
    expect(values).not.toEqual([1, 2, 3, 4, 5, 6]);
    expect([...values].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('at the shutdown deadline, writes in-flight and queued data to dead letters', async () => {
    sink.reply = () => ({ status: 503 });
    const e = engine({ batch: { maxPoints: 10, flushIntervalMs: 5 }, numConsumers: 2 });
    const ids: string[] = [];
    for (let k = 0; k < 10; k++) {
      const { batch, ids: batchIds } = counterBatch(10);
      ids.push(...batchIds);
      await e.consume(batch);
    }
    await e.shutdown({ deadlineMs: 300 });
    expect(e.stats.deadLettered.shutdown).toBe(100);
    await expectNothingLost(e, ids);
    await expect(e.consume(counterBatch(1).batch)).rejects.toBeInstanceOf(ShutdownError);
    expect(e.stats.refused.shutdown).toBe(1);
  });

  it('drains the queue on shutdown when the backend is up', async () => {
    const e = engine({ batch: { maxPoints: 50, flushIntervalMs: 10_000 } });
    const { batch, ids } = counterBatch(120);
    await e.consume(batch);
    await e.shutdown({ deadlineMs: 5_000 });
    expect(e.stats.sent).toBe(120);
    await expectNothingLost(e, ids);
  });

  it('gives up after max elapsed time and dead-letters with the last error', async () => {
    sink.reply = () => ({ status: 502, body: 'bad gateway' });
    const e = engine({
      retry: { initialIntervalMs: 20, maxIntervalMs: 40, maxElapsedMs: 200 },
      circuitBreaker: false,
    });
    const { batch, ids } = counterBatch(2);
    await e.consume(batch);
    await e.forceFlush();
    const [record] = await listDeadLetters(dir);
    expect(record).toMatchObject({ reason: 'retries_exhausted', status: 502 });
    await expectNothingLost(e, ids);
  });

  it('refuses when the queue is full (reject) or drops and counts the newest (drop_newest)', async () => {
    sink.reply = () => ({ delayMs: 300 });
    const options = { numConsumers: 1, batch: { maxPoints: 10, flushIntervalMs: 10_000 } };
    const rejecting = engine({ ...options, queue: { maxPoints: 20, whenFull: 'reject' } });
    await rejecting.consume(counterBatch(10).batch);
    await waitFor(() => sink.inFlight === 1); // the first batch left the queue
    await rejecting.consume(counterBatch(10).batch);
    await rejecting.consume(counterBatch(10).batch);
    await expect(rejecting.consume(counterBatch(10).batch)).rejects.toThrow(QueueFullError);
    await expect(rejecting.consume(counterBatch(10).batch)).rejects.toThrow(
      /queue full: 20\/20 points/,
    );
    expect(rejecting.stats.refused.queue_full).toBe(20);

    const dropping = engine({ ...options, queue: { maxPoints: 20, whenFull: 'drop_newest' } });
    await dropping.consume(counterBatch(10).batch);
    await waitFor(() => sink.inFlight === 2);
    await dropping.consume(counterBatch(10).batch);
    await dropping.consume(counterBatch(10).batch);
    await dropping.consume(counterBatch(10).batch);
    expect(dropping.stats.dropped.queue_full).toBe(10);
    expect(dropping.stats.accepted).toBe(40);
  });

  it('refuses a batch larger than the whole queue, saying which limit to raise', async () => {
    const e = engine({ queue: { maxPoints: 5 } });
    await expect(e.consume(counterBatch(6).batch)).rejects.toThrow(
      /exceeds the whole queue .* raise queue\.max_points/,
    );
  });

  it('blocks when the queue is full (block) until there is room', async () => {
    const e = engine({
      queue: { maxPoints: 20, whenFull: 'block' },
      batch: { maxPoints: 20, flushIntervalMs: 5 },
    });
    const ids: string[] = [];
    for (let k = 0; k < 10; k++) {
      const { batch, ids: batchIds } = counterBatch(15);
      ids.push(...batchIds);
      await e.consume(batch);
      expect(e.queue.points).toBeLessThanOrEqual(20);
    }
    await e.forceFlush();
    await expectNothingLost(e, ids);
  });

  it('opens the circuit breaker after consecutive failures, waits, then probes once', async () => {
    let failing = true;
    sink.reply = () => (failing ? { status: 503 } : {});
    const e = engine({
      circuitBreaker: { failureThreshold: 3, resetTimeoutMs: 400 },
      retry: { initialIntervalMs: 10, maxIntervalMs: 10, maxElapsedMs: 60_000 },
      numConsumers: 2,
    });
    const { batch, ids } = counterBatch(3);
    await e.consume(batch);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const whileOpen = sink.received.length;
    expect(whileOpen).toBe(3); // opened after 3 failures; nothing more until the reset timeout
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(sink.received.length).toBe(whileOpen);
    failing = false;
    await e.forceFlush();
    expect(sink.received.length).toBe(whileOpen + 1); // the single half-open probe succeeded
    await expectNothingLost(e, ids);
  });
});

describe('blocking queue', () => {
  it('refuses after block_timeout when no room appears', async () => {
    sink.reply = () => ({ delayMs: 2_000 });
    const e = engine({
      queue: { maxPoints: 10, whenFull: 'block', blockTimeoutMs: 150 },
      numConsumers: 1,
      batch: { maxPoints: 10, flushIntervalMs: 10_000 },
    });
    await e.consume(counterBatch(10).batch);
    await waitFor(() => sink.inFlight === 1);
    await e.consume(counterBatch(10).batch);
    const started = Date.now();
    await expect(e.consume(counterBatch(5).batch)).rejects.toThrow(/queue full for 150 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });
});

/** `batch` as a producer that encodes its own requests hands it over. */
function encoded(batch: MetricBatch, seriesKeys?: number[]): EncodedRequest {
  return {
    bytes: encodeMetricsRequest(batch),
    points: batch.pointCount,
    seriesKeys: seriesKeys ? Int32Array.from(seriesKeys) : undefined,
  };
}

describe('DeliveryEngine with encoded requests', () => {
  it('sends them as they are, joining small ones up to the limits, and hands each back', async () => {
    const released: unknown[] = [];
    const e = engine({
      batch: { maxPoints: 30, flushIntervalMs: 50 },
      releaseBatch: (payload) => void released.push(payload),
    });
    const ids: string[] = [];
    const requests: EncodedRequest[] = [];
    for (let k = 0; k < 12; k++) {
      const { batch, ids: batchIds } = counterBatch(10);
      ids.push(...batchIds);
      requests.push(encoded(batch));
      await e.consume(requests[k]);
    }
    await e.forceFlush();
    expect(sink.received.reduce((n, r) => n + r.points, 0)).toBe(120);
    expect(Math.max(...sink.received.map((r) => r.points))).toBeLessThanOrEqual(30);
    expect(sink.received.length).toBeLessThan(12);
    // Every request came back for reuse, joined ones as well as those sent alone.
    for (const request of requests) expect(released).toContain(request);
    await expectNothingLost(e, ids);
  });

  it('dead-letters the request bytes themselves', async () => {
    sink.reply = () => ({ status: 400, body: statusBody('no') });
    const released: unknown[] = [];
    const e = engine({ releaseBatch: (payload) => void released.push(payload) });
    const { batch, ids } = counterBatch(5);
    const request = encoded(batch);
    await e.consume(request);
    await e.forceFlush();
    const [record] = await listDeadLetters(dir);
    const written = await readFile(join(dir, record.file));
    expect(Buffer.from(written).equals(Buffer.from(request.bytes))).toBe(true);
    // A failed send may leave the bytes with the socket: they are not handed back for reuse.
    expect(released).not.toContain(request);
    await expectNothingLost(e, ids);
  });

  it('keeps per-series order by the series keys the producer gave', async () => {
    sink.reply = (_r, index) =>
      index === 0 ? { status: 503, headers: { 'retry-after': '0' }, delayMs: 50 } : {};
    const e = engine({ numConsumers: 4, batch: { maxPoints: 1, flushIntervalMs: 1 } });
    for (let value = 1; value <= 6; value++) {
      await e.consume(encoded(depthGauge(value), [7]));
    }
    await e.forceFlush();
    const values = acceptedDepths();
    expect(values).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('does not order requests of one SDK collection among themselves', async () => {
    sink.reply = (_r, index) =>
      index === 0 ? { status: 503, headers: { 'retry-after': '0' }, delayMs: 50 } : {};
    const e = engine({ numConsumers: 4, batch: { maxPoints: 1, flushIntervalMs: 1 } });
    for (const value of [1, 2]) {
      // Same key (as if two series collided), same collection: no wait.
      await e.consume({ ...encoded(depthGauge(value, `q${value}`, 1n), [7]), collection: 1 });
    }
    await e.forceFlush();
    const values = acceptedDepths();
    expect(values).toEqual([2, 1]);
  });

  it('refuses them when the sender only takes batches', async () => {
    const e = engine({
      sender: { destination: 'batches-only', send: async () => ({ rejectedPoints: 0 }) },
    });
    await expect(e.consume(encoded(counterBatch(3).batch))).rejects.toThrow(
      /batches-only takes batches only/,
    );
  });
});
