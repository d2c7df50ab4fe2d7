import { MetricBatch, MetricType, Temporality } from '../../src/index.js';

let nextId = 0;

/** A batch of `points` counter points, each with a unique `id` attribute. */
export function counterBatch(
  points: number,
  name = 'requests',
): { batch: MetricBatch; ids: string[] } {
  const batch = new MetricBatch();
  const scope = batch.addScope(batch.addResource({ attributes: { 'service.name': 'test' } }), {
    name: 'test',
  });
  const metric = batch.addMetric(scope, {
    name,
    type: MetricType.Sum,
    temporality: Temporality.Cumulative,
    monotonic: true,
  });
  const ids: string[] = [];
  for (let k = 0; k < points; k++) {
    const id = `p${nextId++}`;
    ids.push(id);
    batch.addNumberPoint(batch.series(metric, { id }), { startTime: 1n, time: 2n, value: k });
  }
  return { batch, ids };
}

/** A monotonic sum `c` with one point per entry, its series named by the `s` attribute. */
export function monotonicSums(
  temporality: Temporality,
  values: { series: string; start: bigint; time: bigint; value: number | bigint }[],
): MetricBatch {
  const batch = new MetricBatch();
  const scope = batch.addScope(batch.addResource({ attributes: { 'service.name': 's' } }));
  const m = batch.addMetric(scope, {
    name: 'c',
    type: MetricType.Sum,
    temporality,
    monotonic: true,
  });
  for (const v of values)
    batch.addNumberPoint(batch.series(m, { s: v.series }), {
      startTime: v.start,
      time: v.time,
      value: v.value,
    });
  return batch;
}
