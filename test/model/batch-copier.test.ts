import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BatchCopier,
  decodeMetricsRequest,
  encodeFlatJsonLines,
  encodeMetricsRequest,
  splitBatch,
} from '../../src/index.js';
import { metricsRequest } from '../helpers/arbitraries.js';
import { refCanonical, refEncode } from '../helpers/reference.js';

describe('BatchCopier and splitBatch', () => {
  it('splitting keeps every point, in order, with its resource, scope, metric and attributes', () => {
    fc.assert(
      fc.property(metricsRequest, fc.integer({ min: 1, max: 5 }), (request, size) => {
        const batch = decodeMetricsRequest(refEncode(request));
        const parts = splitBatch(batch, size);
        for (const part of parts) {
          expect(part.pointCount).toBeLessThanOrEqual(Math.max(size, 0));
          // Every part is a valid request for the reference decoder.
          refCanonical(encodeMetricsRequest(part));
        }
        const split = parts.map(encodeFlatJsonLines).join('');
        expect(split).toBe(encodeFlatJsonLines(batch));
      }),
      { numRuns: 200 },
    );
  });

  it('a batch copied whole encodes to the same points as the original', () => {
    fc.assert(
      fc.property(metricsRequest, (request) => {
        const batch = decodeMetricsRequest(refEncode(request));
        const copier = new BatchCopier();
        copier.append(batch);
        expect(encodeFlatJsonLines(copier.target)).toBe(encodeFlatJsonLines(batch));
        const again = decodeMetricsRequest(encodeMetricsRequest(copier.target));
        expect(encodeFlatJsonLines(again)).toBe(encodeFlatJsonLines(batch));
      }),
      { numRuns: 200 },
    );
  });

  it('merging two exports of one SDK stores each metric once', () => {
    fc.assert(
      fc.property(metricsRequest, (request) => {
        const a = decodeMetricsRequest(refEncode(request));
        const b = decodeMetricsRequest(refEncode(request));
        const copier = new BatchCopier();
        copier.append(a);
        copier.append(b);
        const merged = copier.target;
        expect(merged.pointCount).toBe(a.pointCount * 2);
        // Metrics that carry points, by content: the merge must not store any twice.
        const withPoints = (batch: typeof a) =>
          [...batch.pointViews()].map((p) => {
            const m = p.metric;
            const scope = batch.scopes[m.scope];
            return JSON.stringify([
              m.name,
              m.type,
              m.unit,
              m.description,
              m.temporality,
              m.monotonic,
              scope.name,
              scope.version,
              scope.schemaUrl,
              batch.resources[scope.resource].schemaUrl,
            ]);
          });
        expect(new Set(withPoints(merged)).size).toBeLessThanOrEqual(new Set(withPoints(a)).size);
        const used = new Set([...merged.pointViews()].map((p) => p.metricIndex));
        expect(used.size).toBe(new Set(withPoints(a)).size);
        expect(encodeFlatJsonLines(merged)).toBe(encodeFlatJsonLines(a) + encodeFlatJsonLines(b));
      }),
      { numRuns: 100 },
    );
  });
});
