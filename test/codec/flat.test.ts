import { describe, expect, it } from 'vitest';
import {
  encodeFlatJsonLines,
  formatNanos,
  MetricBatch,
  MetricType,
  Temporality,
} from '../../src/index.js';

describe('flat JSON lines', () => {
  it('writes one self-contained object per point', () => {
    const batch = new MetricBatch();
    const r = batch.addResource({ attributes: { 'service.name': 'api' } });
    const s = batch.addScope(r, { name: 'lib', version: '2' });
    const c = batch.addMetric(s, {
      name: 'requests',
      type: MetricType.Sum,
      temporality: Temporality.Delta,
      monotonic: true,
      unit: '1',
      description: 'd',
    });
    const h = batch.addMetric(s, {
      name: 'latency',
      type: MetricType.Histogram,
      temporality: Temporality.Cumulative,
    });
    batch.addNumberPoint(batch.series(c, { route: '/a', code: 200 }), {
      startTime: 1_700_000_000_000_000_000n,
      time: 1_700_000_010_123_456_789n,
      value: 2n ** 60n,
    });
    batch.addHistogramPoint(batch.series(h, {}), {
      time: 1_700_000_010_000_000_000n,
      count: 3,
      sum: Number.NaN,
      bounds: [1],
      bucketCounts: [1, 2],
    });
    const lines = encodeFlatJsonLines(batch).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0])).toEqual({
      name: 'requests',
      description: 'd',
      unit: '1',
      type: 'sum',
      temporality: 'delta',
      monotonic: true,
      value: '1152921504606846976',
      start: '2023-11-14T22:13:20.000000000Z',
      time: '2023-11-14T22:13:30.123456789Z',
      attributes: { route: '/a', code: 200 },
      resource: { 'service.name': 'api' },
      scope: { name: 'lib', version: '2' },
    });
    expect(JSON.parse(lines[1])).toMatchObject({
      name: 'latency',
      type: 'histogram',
      temporality: 'cumulative',
      count: 3,
      sum: 'NaN',
      bounds: [1],
      bucketCounts: [1, 2],
    });
  });

  it('formats nanosecond times exactly', () => {
    expect(formatNanos(0n)).toBe('1970-01-01T00:00:00.000000000Z');
    expect(formatNanos(1_000_000_001n)).toBe('1970-01-01T00:00:01.000000001Z');
  });
});
