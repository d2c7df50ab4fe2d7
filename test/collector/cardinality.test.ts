import { describe, expect, it } from 'vitest';
import { CardinalityTracker } from '../../src/collector/status/cardinality.js';
import { encodeMetricsRequest, MetricBatch, MetricType, Temporality } from '../../src/index.js';

/** A batch of one counter with a point per attribute set. */
function batchOf(metric: string, sets: Record<string, string>[]): MetricBatch {
  const batch = new MetricBatch();
  const scope = batch.addScope(batch.addResource({ attributes: { 'service.name': 't' } }), {
    name: 's',
  });
  const m = batch.addMetric(scope, {
    name: metric,
    type: MetricType.Sum,
    temporality: Temporality.Cumulative,
    monotonic: true,
  });
  for (const attributes of sets)
    batch.addNumberPoint(batch.series(m, attributes), { startTime: 1n, time: 2n, value: 1 });
  return batch;
}

const routes = (n: number, extra: (k: number) => Record<string, string> = () => ({})) =>
  Array.from({ length: n }, (_, k) => ({ route: `/r${k % 10}`, ...extra(k) }));

describe('CardinalityTracker', () => {
  it('ranks metrics by active series and a metric’s attributes by distinct values', () => {
    // No CPU budget in the way: this test is about what it counts.
    const tracker = new CardinalityTracker({ cpuBudget: 1 });
    tracker.observeBatch(batchOf('small', routes(10)));
    tracker.observeBatch(
      batchOf(
        'bombed',
        routes(500, (k) => ({ 'user.id': `u${k}` })),
      ),
    );
    // Seen again: nothing new.
    tracker.observeBatch(batchOf('small', routes(10)));
    const report = tracker.report();
    expect(report.sampling).toBe(1);
    expect(report.series).toBe(510);
    expect(report.metrics.map((m) => [m.metric, m.series])).toEqual([
      ['bombed', 500],
      ['small', 10],
    ]);
    const attributes = tracker.attributes('bombed')!;
    expect(attributes.map((a) => [a.key, a.distinct])).toEqual([
      ['user.id', 500],
      ['route', 10],
    ]);
    expect(attributes[1].top[0]).toEqual(['/r0', 50]);
    expect(tracker.attributes('unknown')).toBeUndefined();
  });

  it('stays within its series bound by sampling, and estimates the count from the sample', () => {
    const tracker = new CardinalityTracker({ maxSeries: 1000, cpuBudget: 1 });
    const total = 20_000;
    for (let start = 0; start < total; start += 1000)
      tracker.observeBatch(
        batchOf(
          'm',
          routes(1000, (k) => ({ id: `${start + k}` })),
        ),
      );
    const report = tracker.report();
    expect(report.sampling).toBeGreaterThan(1);
    expect(report.metrics[0].sampled).toBeLessThanOrEqual(1000);
    // One series in 2^level, chosen by hash: the estimate is close to the truth.
    expect(report.series).toBeGreaterThan(total * 0.8);
    expect(report.series).toBeLessThan(total * 1.2);
    // The value counts follow the sample: route's ten values are all still there.
    expect(tracker.attributes('m')!.find((a) => a.key === 'route')!.distinct).toBe(10);
  });

  it('forgets series not seen for the active window, with their values', () => {
    let now = 0;
    const tracker = new CardinalityTracker({
      activeWindowMs: 60_000,
      cpuBudget: 1,
      now: () => now,
    });
    tracker.observeBatch(
      batchOf(
        'm',
        routes(10, (k) => ({ id: `old${k}` })),
      ),
    );
    now = 40_000;
    tracker.observeBatch(
      batchOf(
        'm',
        routes(5, (k) => ({ id: `new${k}` })),
      ),
    );
    now = 80_000; // the old ones are 80 s silent, the new ones 40 s
    expect(tracker.report().series).toBe(5);
    expect(tracker.attributes('m')!.find((a) => a.key === 'id')!.distinct).toBe(5);
  });

  it('reads batches and request bodies within its CPU budget and says what share it read', () => {
    const body = encodeMetricsRequest(
      batchOf(
        'm',
        routes(100, (k) => ({ id: `${k}` })),
      ),
    );
    const idle = new CardinalityTracker();
    idle.observeRequest('otlp', body, 100);
    expect(idle.report().series).toBe(100);
    expect(idle.report().coverage).toBe(1);
    // No budget at all: the first request is read (the budget is checked before), the rest
    // are skipped and counted.
    const starved = new CardinalityTracker({ cpuBudget: 0 });
    for (let k = 0; k < 5; k++) starved.observeRequest('otlp', body, 100);
    expect(starved.report().coverage).toBeCloseTo(0.2, 5);
    // Decoded batches count against the same budget.
    const batches = new CardinalityTracker({ cpuBudget: 0 });
    for (let k = 0; k < 4; k++)
      batches.observeBatch(
        batchOf(
          'm',
          routes(100, (j) => ({ id: `${j}` })),
        ),
      );
    expect(batches.report().coverage).toBeCloseTo(0.25, 5);
    expect(batches.report().series).toBe(100);
  });
});
