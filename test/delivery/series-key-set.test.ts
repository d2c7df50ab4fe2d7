import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeriesKeySet } from '../../src/delivery/series-key-set.js';
import { MetricBatch, MetricType, Temporality } from '../../src/index.js';

// Keys from a small range collide often (and include 0, the empty-slot marker).
const keys = fc.array(fc.oneof(fc.integer({ min: 0, max: 40 }), fc.nat()), { maxLength: 300 });

describe('SeriesKeySet', () => {
  it('holds exactly its keys, and two sets overlap exactly when they share one (property)', () => {
    fc.assert(
      fc.property(keys, keys, fc.nat(), (a, b, probe) => {
        const setA = new SeriesKeySet(a);
        const setB = new SeriesKeySet(b);
        expect(setA.size).toBe(new Set(a).size);
        for (const key of a) expect(setA.has(key)).toBe(true);
        expect(setA.has(probe)).toBe(a.includes(probe));
        const shared = a.some((key) => b.includes(key));
        expect(setA.overlaps(setB)).toBe(shared);
        expect(setB.overlaps(setA)).toBe(shared);
      }),
      { numRuns: 500 },
    );
  });

  it('keys a batch by its series whose order matters: not delta points', () => {
    const batch = new MetricBatch();
    const scope = batch.addScope(batch.addResource());
    const gauge = batch.addMetric(scope, { name: 'g', type: MetricType.Gauge });
    const delta = batch.addMetric(scope, {
      name: 'd',
      type: MetricType.Sum,
      temporality: Temporality.Delta,
    });
    const a = batch.series(gauge, { k: 'a' });
    batch.addNumberPoint(a, { time: 1n, value: 1 });
    batch.addNumberPoint(a, { time: 2n, value: 2 });
    batch.addNumberPoint(batch.series(delta, { k: 'a' }), { time: 1n, value: 1 });
    const set = SeriesKeySet.ofBatch(batch)!;
    expect(set.size).toBe(1);
    expect(set.has(batch.seriesHash(a))).toBe(true);

    const onlyDelta = new MetricBatch();
    const s = onlyDelta.addScope(onlyDelta.addResource());
    const d = onlyDelta.addMetric(s, { name: 'd', type: MetricType.Sum, temporality: 1 });
    onlyDelta.addNumberPoint(onlyDelta.series(d, {}), { time: 1n, value: 1 });
    expect(SeriesKeySet.ofBatch(onlyDelta)).toBeUndefined();
  });
});
