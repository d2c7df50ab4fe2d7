import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { describe, expect, it } from 'vitest';
import { decodeMetricsRequest, encodeMetricsRequest } from '../../src/index.js';
import { firstDifference, refCanonical } from '../helpers/reference.js';
import { collectSdkMetrics } from '../helpers/sdk-data.js';

describe('OTLP protobuf against the official definitions', () => {
  it('official SDK data → official serializer → our decode → our encode → reference decode is unchanged', async () => {
    for (const exponential of [false, true]) {
      const rm = await collectSdkMetrics({ series: 30, exponential });
      const official = ProtobufMetricsSerializer.serializeRequest(rm)!;
      const batch = decodeMetricsRequest(official);
      expect(batch.pointCount).toBeGreaterThan(100);
      const ours = encodeMetricsRequest(batch);
      expect(firstDifference(refCanonical(ours), refCanonical(official)) ?? 'same').toBe('same');
    }
  });
});
