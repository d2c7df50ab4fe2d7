import fc from 'fast-check';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeMetricsRequest } from '../../src/codec/protobuf/decode-request.js';
import { MetricsRequestScanner } from '../../src/codec/protobuf/scan-request.js';
import { prometheusConfig } from '../../src/exporters/prometheus/config.js';
import { PrometheusExporter } from '../../src/exporters/prometheus/prometheus-exporter.js';
import { ScrapeState } from '../../src/exporters/prometheus/scrape-state.js';
import { requestBytes } from '../../src/model/byte-pool.js';
import type { EncodedRequest } from '../../src/model/encoded-request.js';
import { DataPointFlags } from '../../src/model/types.js';
import { SCAN_METRICS, SCAN_SETS, scanRequest } from '../helpers/aggregate-fixtures.js';

const NOW = 1_765_000_000_000;

describe('scrape state, requests scanned from their bytes (the relay into prometheus)', () => {
  beforeEach(() => {
    // target_info is stamped with the time of the update: both ways must see the same.
    vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const pointSpec = fc.record({
    metric: fc.nat(SCAN_METRICS.length - 1),
    resource: fc.nat(1),
    set: fc.nat(SCAN_SETS.length - 1),
    value: fc.nat(1000),
    int: fc.boolean(),
    otherBounds: fc.boolean().map((b) => b && Math.random() < 0.2),
    // A point with no recorded value, now and then: the scan leaves it to the decoder.
    flags: fc.nat(30).map((n) => (n === 0 ? DataPointFlags.NoRecordedValue : 0)),
  });

  it('renders exactly what decoding every request renders (property)', () => {
    let takenRuns = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            points: fc.array(pointSpec, { minLength: 1, maxLength: 12 }),
            repeat: fc.nat(2),
            render: fc.boolean(),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.boolean(),
        (requests, resourceToLabels) => {
          const options = {
            constLabels: { env: 'test' },
            addSuffixes: true,
            resourceToLabels,
            sendTimestamps: true,
            expirationMs: 3_600_000,
          };
          const decoded = new ScrapeState(options);
          const scanned = new ScrapeState(options);
          const scanner = new MetricsRequestScanner(scanned);
          const reused = Buffer.alloc(64 * 1024);
          // Point times past 2^53 ns, with sub-millisecond parts: their milliseconds must match.
          let time = 1_765_000_000_000_000_000n;
          let taken = 0;
          for (const { points, repeat, render } of requests) {
            // Repeats send the same series again, later: the case the scan is for.
            for (let k = 0; k <= repeat; k++) {
              time += 1_234_567n;
              const request = scanRequest(points, time);
              decoded.update(decodeMetricsRequest(request));
              // As a receiver's bodies do, each lies in one reused Buffer, overwritten once
              // it is consumed: what the scan or the decoder kept of it must be copies
              // (the prometheus exporter gives the bytes back to be reused).
              const body = reused.subarray(0, request.length);
              body.set(request);
              const n = scanner.scan(body);
              if (n > 0) {
                expect(n).toBe(points.length);
                taken++;
              } else scanned.update(decodeMetricsRequest(body));
              reused.fill(0xee);
            }
            if (render) expect(scanned.render(false)).toBe(decoded.render(false));
          }
          expect(scanned.render(false)).toBe(decoded.render(false));
          expect(scanned.render(true)).toBe(decoded.render(true));
          expect(scanned.skipped).toEqual(decoded.skipped);
          if (taken > 0) takenRuns++;
        },
      ),
      { numRuns: 200 },
    );
    // Some runs had requests taken by the scan, or the comparison proves little.
    expect(takenRuns).toBeGreaterThan(60);
  });
});

describe('the prometheus exporter and the request buffers', () => {
  it("gives a relayed request's bytes back once consumed, scanned or decoded", async () => {
    const exporter = new PrometheusExporter(
      { id: 'prometheus', logger: pino({ level: 'silent' }) },
      prometheusConfig.parse({ endpoint: '127.0.0.1:0' }),
    );
    const given = vi.spyOn(requestBytes, 'give');
    try {
      const point = {
        metric: 0,
        resource: 0,
        set: 0,
        value: 1,
        int: false,
        otherBounds: false,
        flags: 0,
      };
      for (const time of [1_765_000_000_000_000_000n, 1_765_000_000_001_000_000n]) {
        const bytes = requestBytes.copy(scanRequest([point], time));
        await exporter.encoded.consume({ format: 'otlp', bytes, points: 1, seriesKeys: undefined });
        expect(given).toHaveBeenCalledWith(bytes);
      }
      // The second was scanned, the first decoded: both ways give back.
      expect(exporter.scannedRequests).toBe(1);
    } finally {
      given.mockRestore();
      await exporter.shutdown();
    }
  });
});
