import fc from 'fast-check';
import { compressSync, uncompressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { decodeWriteRequest, encodeWriteRequest } from '../../src/codec/prometheus/remote-write.js';
import { decodeMetricsRequest } from '../../src/codec/protobuf/decode-request.js';
import { encodeMetricsRequest } from '../../src/codec/protobuf/encode-request.js';
import { DEFAULT_QUEUE, MemoryQueue, type Work } from '../../src/delivery/memory-queue.js';
import { MetricBatch, MetricType, Temporality } from '../../src/index.js';
import type { EncodedRequest } from '../../src/model/encoded-request.js';

/**
 * One batch of `kinds`: 's' a small cumulative sum point, 'h' a histogram of `buckets`
 * bounds (a large point), each of its own series; values number the points in order.
 */
function unevenBatch(kinds: ('s' | 'h')[], buckets: number, first: number): MetricBatch {
  const batch = new MetricBatch();
  const scope = batch.addScope(batch.addResource({ attributes: { 'service.name': 'api' } }));
  const sum = batch.addMetric(scope, {
    name: 'requests',
    type: MetricType.Sum,
    temporality: Temporality.Cumulative,
    monotonic: true,
  });
  const histogram = batch.addMetric(scope, {
    name: 'latency',
    type: MetricType.Histogram,
    temporality: Temporality.Cumulative,
  });
  const bounds = Array.from({ length: buckets }, (_, k) => k + 0.5);
  kinds.forEach((kind, k) => {
    const n = first + k;
    const time = { startTime: 1n, time: 2n };
    if (kind === 's') {
      batch.addNumberPoint(batch.series(sum, { n }), { ...time, value: n });
    } else {
      const counts = Array.from({ length: buckets + 1 }, (_, b) => (b * 7 + n) % 1000);
      const count = counts.reduce((a, b) => a + b, 0);
      batch.addHistogramPoint(batch.series(histogram, { n }), {
        ...time,
        count,
        sum: n,
        bounds,
        bucketCounts: counts,
      });
    }
  });
  return batch;
}

/** Every point's number (a sum's value, a histogram's sum). */
function numbers(batch: MetricBatch): number[] {
  return [...batch.pointViews()].map((point) =>
    Number(point.metric.type === MetricType.Sum ? point.value : point.sum),
  );
}

/** Offers every batch, then takes work until the queue is empty. */
async function cutAll(
  batches: MetricBatch[],
  maxPoints: number,
  maxBytes: number,
): Promise<Work[]> {
  const queue = new MemoryQueue({
    maxPoints: 1_000_000,
    maxBytes: 1024 ** 3,
    whenFull: 'reject',
    blockTimeoutMs: 0,
  });
  for (const batch of batches) await queue.offer(batch);
  queue.close();
  const works: Work[] = [];
  for (;;) {
    const work = await queue.take(maxPoints, maxBytes, 0);
    if (work === undefined) break;
    works.push(work);
  }
  expect([queue.points, queue.bytes, queue.length]).toEqual([0, 0, 0]);
  return works;
}

describe('MemoryQueue request limits', () => {
  it('never hands out a request over max_bytes, however uneven the points (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(fc.constantFrom<'s' | 'h'>('s', 's', 's', 's', 's', 's', 'h'), {
            minLength: 1,
            maxLength: 120,
          }),
          { minLength: 1, maxLength: 6 },
        ),
        fc.integer({ min: 50, max: 1500 }),
        fc.integer({ min: 4 * 1024, max: 96 * 1024 }),
        fc.integer({ min: 1, max: 400 }),
        async (kindsPerBatch, buckets, maxBytes, maxPoints) => {
          let next = 0;
          const batches = kindsPerBatch.map((kinds) => {
            const batch = unevenBatch(kinds, buckets, next);
            next += kinds.length;
            return batch;
          });
          const works = await cutAll(batches, maxPoints, maxBytes);
          const seen: number[] = [];
          for (const work of works) {
            const request = encodeMetricsRequest(work.batch as MetricBatch);
            // A single point larger than the limit is the one request allowed over it (the
            // engine dead-letters it as too_large instead of sending it).
            if (work.points > 1) expect(request.length).toBeLessThanOrEqual(maxBytes);
            expect(work.points).toBeLessThanOrEqual(maxPoints);
            // Exact for a part cut off a batch; for merged batches the sum of their sizes,
            // which bounds the merged request (shared headers only make it smaller).
            expect(request.length).toBeLessThanOrEqual(work.bytes);
            seen.push(...numbers(decodeMetricsRequest(request)));
          }
          expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: next }, (_, k) => k));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('fills requests by the real size of their points: huge histograms among small sums', async () => {
    // 4 histograms of ~40 KB among 4,000 small sums, requests of at most 64 KiB.
    const kinds = Array.from({ length: 4004 }, (_, k): 's' | 'h' => (k % 1001 === 500 ? 'h' : 's'));
    const works = await cutAll([unevenBatch(kinds, 2500, 0)], 1_000_000, 64 * 1024);
    const sizes = works.map((work) => encodeMetricsRequest(work.batch as MetricBatch).length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024);
    expect(works.reduce((total, work) => total + work.points, 0)).toBe(4004);
    // Cut by the points' own sizes, not an average: a request ends only where the next
    // point did not fit, so no two neighbours could have been one request.
    for (let k = 1; k < sizes.length; k++)
      expect(sizes[k - 1] + sizes[k]).toBeGreaterThan(64 * 1024);
  });
});

describe('MemoryQueue with remote write as the client compressed it', () => {
  /** A remote-write request of `n` series, carried as a relay carries it (snappy). */
  function relayed(n: number, first: number, compressed = true) {
    const body = Buffer.from(
      encodeWriteRequest({
        timeseries: Array.from({ length: n }, (_, k) => ({
          labels: [
            ['__name__', 'requests_total'],
            ['n', String(first + k)],
          ] as [string, string][],
          samples: [{ value: first + k, timestampMs: 1_700_000_000_000 }],
        })),
        metadata: [],
      }),
    );
    return {
      format: 'prometheus-remote-write' as const,
      bytes: compressed ? compressSync(body) : body,
      compression: compressed ? ('snappy' as const) : undefined,
      points: n,
      seriesKeys: undefined,
    };
  }

  const values = (body: Uint8Array) =>
    decodeWriteRequest(body).timeseries.map((series) => series.samples[0].value);

  it('joins them still compressed, up to max_bytes of what the backend reads uncompressed', async () => {
    const queue = new MemoryQueue({ ...DEFAULT_QUEUE, blockTimeoutMs: 0 });
    const parts = [relayed(10, 0), relayed(10, 10), relayed(10, 20), relayed(10, 30)];
    const [a, b, c] = parts.map((part) => uncompressSync(part.bytes).length);
    for (const part of parts) await queue.offer(part);
    queue.close();
    // Room for three of the uncompressed requests, though the compressed ones are smaller.
    const first = (await queue.take(1000, a + b + c, 0))!;
    const second = (await queue.take(1000, a + b + c, 0))!;
    expect(await queue.take(1000, a + b + c, 0)).toBeUndefined();
    expect([first.points, second.points]).toEqual([30, 10]);
    const joined = first.batch as EncodedRequest;
    expect(joined.compression).toBe('snappy');
    expect(values(uncompressSync(Buffer.from(joined.bytes)) as Buffer)).toEqual(
      Array.from({ length: 30 }, (_, k) => k),
    );
    expect((second.batch as EncodedRequest).bytes).toBe(parts[3].bytes);
  });

  it('never joins a compressed request with an uncompressed one', async () => {
    const queue = new MemoryQueue({ ...DEFAULT_QUEUE, blockTimeoutMs: 0 });
    await queue.offer(relayed(5, 0));
    await queue.offer(relayed(5, 5, false));
    await queue.offer(relayed(5, 10, false));
    queue.close();
    const works = [(await queue.take(1000, 1 << 20, 0))!, (await queue.take(1000, 1 << 20, 0))!];
    expect(works.map((work) => (work.batch as EncodedRequest).compression)).toEqual([
      'snappy',
      undefined,
    ]);
    expect(values((works[1].batch as EncodedRequest).bytes)).toEqual([
      5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    ]);
  });
});
