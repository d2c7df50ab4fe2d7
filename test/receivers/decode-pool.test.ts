import fc from 'fast-check';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeWriteRequest } from '../../src/codec/prometheus/remote-write.js';
import {
  DecodeError,
  encodeMetricsRequest,
  encodeMetricsRequestJson,
  type MetricBatch,
} from '../../src/index.js';
import { DecodePool } from '../../src/receivers/decode-pool.js';
import { decodeRequest } from '../../src/receivers/request-decoder.js';
import { metricsRequest } from '../helpers/arbitraries.js';
import { refEncode } from '../helpers/reference.js';

// Node runs compiled workers only: the pool under test loads the built decode worker.
const builtWorker = new URL('../../dist/receivers/decode-worker.js', import.meta.url);
const silent = pino({ level: 'silent' });
let pool: DecodePool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

const bytesOf = (batch: MetricBatch) => Buffer.from(encodeMetricsRequest(batch));

describe('DecodePool', () => {
  it('decodes OTLP protobuf and JSON on worker threads into the same batches as this thread', async () => {
    pool = new DecodePool({ threads: 2, minBodyBytes: 0, logger: silent, workerUrl: builtWorker });
    await fc.assert(
      fc.asyncProperty(metricsRequest, async (request) => {
        const body = refEncode(request);
        const here = decodeRequest('otlp-protobuf', body);
        expect(bytesOf(await pool!.decode('otlp-protobuf', body))).toEqual(bytesOf(here));
        const json = new TextEncoder().encode(encodeMetricsRequestJson(here));
        expect(bytesOf(await pool!.decode('otlp-json', json))).toEqual(
          bytesOf(decodeRequest('otlp-json', json)),
        );
      }),
      { numRuns: 60 },
    );
    expect(pool.stats.onThreads).toBeGreaterThanOrEqual(120);
    expect(pool.stats.onMainThread).toBe(0);
  });

  it('decodes Prometheus remote write on a thread', async () => {
    pool = new DecodePool({ threads: 1, minBodyBytes: 0, logger: silent, workerUrl: builtWorker });
    const body = encodeWriteRequest({
      timeseries: [
        {
          labels: [
            ['__name__', 'http_requests_total'],
            ['job', 'api'],
            ['code', '200'],
          ],
          samples: [{ value: 42, timestampMs: 1_700_000_000_000 }],
        },
      ],
      metadata: [],
    });
    const batch = await pool.decode('prometheus-remote-write', body);
    const [point] = [...batch.pointViews()];
    expect([point.metric.name, point.value, point.attributes]).toEqual([
      'http_requests',
      42,
      [{ key: 'code', value: '200' }],
    ]);
    expect(pool.stats.onThreads).toBe(1);
  });

  it('rejects a malformed body with the DecodeError this thread would throw', async () => {
    pool = new DecodePool({ threads: 1, minBodyBytes: 0, logger: silent, workerUrl: builtWorker });
    const garbage = new Uint8Array([0x0a, 0x20, 0x01, 0x02]);
    let expected: Error | undefined;
    try {
      decodeRequest('otlp-protobuf', garbage);
    } catch (err) {
      expected = err as Error;
    }
    expect(expected).toBeInstanceOf(DecodeError);
    const error = await Promise.resolve(pool.decode('otlp-protobuf', garbage)).catch((e) => e);
    expect(error).toBeInstanceOf(DecodeError);
    expect(error.message).toBe(expected!.message);
  });

  it('decodes small bodies on this thread, where a round trip would cost more', async () => {
    pool = new DecodePool({ threads: 1, logger: silent, workerUrl: builtWorker });
    const small = refEncode({ resourceMetrics: [] });
    await pool.decode('otlp-protobuf', small);
    expect(pool.stats).toEqual({ onThreads: 0, onMainThread: 1 });
  });

  it('a worker that dies loses nothing: its requests are decoded here, and it is replaced', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    const crashing = new URL('../helpers/crashing-decode-worker.mjs', import.meta.url);
    pool = new DecodePool({ threads: 1, minBodyBytes: 0, logger, workerUrl: crashing });
    const requests = fc.sample(metricsRequest, { numRuns: 3, seed: 7 });
    for (const request of requests) {
      const body = refEncode(request);
      const batch = await pool.decode('otlp-protobuf', body);
      expect(bytesOf(batch)).toEqual(bytesOf(decodeRequest('otlp-protobuf', body)));
    }
    expect(pool.stats.onMainThread).toBe(3);
    expect(pool.threads).toBe(1);
    expect(lines.join('')).toContain('a decode thread died');
  });

  it('sends a worker the body alone, not the pooled block it lies in, and keeps it here', async () => {
    const measuring = new URL('../helpers/measuring-decode-worker.mjs', import.meta.url);
    pool = new DecodePool({ threads: 1, minBodyBytes: 0, logger: silent, workerUrl: measuring });
    // A received body: a Buffer over part of a 1 MiB block (the receivers' `BytePool`).
    const block = Buffer.allocUnsafeSlow(1 << 20).buffer;
    const body = Buffer.from(block, 4096, 20_000);
    await expect(pool.decode('otlp-protobuf', body)).rejects.toThrow(/^20000$/);
    expect(body.byteLength).toBe(20_000);
    expect(block.byteLength).toBe(1 << 20);
  });

  it('stops replacing a worker that keeps dying, and decodes everything here', async () => {
    const crashing = new URL('../helpers/crashing-decode-worker.mjs', import.meta.url);
    pool = new DecodePool({ threads: 1, minBodyBytes: 0, logger: silent, workerUrl: crashing });
    const body = refEncode(fc.sample(metricsRequest, { numRuns: 1, seed: 11 })[0]);
    for (let k = 0; k < 12 && pool.threads > 0; k++) {
      await pool.decode('otlp-protobuf', body);
      // Let the replacement come online, as it would between requests.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(pool.threads).toBe(0);
    const batch = await pool.decode('otlp-protobuf', body);
    expect(bytesOf(batch)).toEqual(bytesOf(decodeRequest('otlp-protobuf', body)));
  });

  it('runs on this thread when the compiled worker is missing (TypeScript sources)', async () => {
    pool = new DecodePool({
      threads: 2,
      minBodyBytes: 0,
      logger: silent,
      workerUrl: new URL('./no-such-worker.js', import.meta.url),
    });
    expect(pool.threads).toBe(0);
    const body = refEncode(fc.sample(metricsRequest, { numRuns: 1, seed: 3 })[0]);
    expect(bytesOf(await pool.decode('otlp-protobuf', body))).toEqual(
      bytesOf(decodeRequest('otlp-protobuf', body)),
    );
  });
});
