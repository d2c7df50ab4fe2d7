import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeMetricsRequest } from '../../src/codec/protobuf/decode-request.js';
import { MetricsRequestScanner } from '../../src/codec/protobuf/scan-request.js';
import { ScrapeState } from '../../src/exporters/prometheus/scrape-state.js';
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
          // Point times past 2^53 ns, with sub-millisecond parts: their milliseconds must match.
          let time = 1_765_000_000_000_000_000n;
          let taken = 0;
          for (const { points, repeat, render } of requests) {
            // Repeats send the same series again, later: the case the scan is for.
            for (let k = 0; k <= repeat; k++) {
              time += 1_234_567n;
              const body = scanRequest(points, time);
              decoded.update(decodeMetricsRequest(body));
              const n = scanner.scan(body);
              if (n > 0) {
                expect(n).toBe(points.length);
                taken++;
              } else scanned.update(decodeMetricsRequest(body));
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
