import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMetricsRequest, encodeMetricsRequest } from '../../src/index.js';
import { metricsRequest } from '../helpers/arbitraries.js';
import { firstDifference, refCanonical, refEncode } from '../helpers/reference.js';

describe('OTLP protobuf property tests', () => {
  it('reference encode of any request → our decode → our encode → reference decode is unchanged', () => {
    fc.assert(
      fc.property(metricsRequest, (request) => {
        const original = refEncode(request);
        const ours = encodeMetricsRequest(decodeMetricsRequest(original));
        expect(firstDifference(refCanonical(ours), refCanonical(original)) ?? 'same').toBe('same');
      }),
      { numRuns: 300 },
    );
  });

  it('our encoding is canonical: encoding our own decode of it gives the same bytes', () => {
    fc.assert(
      fc.property(metricsRequest, (request) => {
        const once = encodeMetricsRequest(decodeMetricsRequest(refEncode(request)));
        const twice = encodeMetricsRequest(decodeMetricsRequest(once));
        expect(Buffer.from(twice).equals(Buffer.from(once))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
