import type { MetricBatch } from '../model/index.js';

/**
 * The nesting OTLP needs (resource → scope → metric → points) over a batch whose points may
 * come in any order. Points are grouped by metric with one counting sort, skipped when they
 * are already grouped (the usual case: decoders and the SDK append metric by metric).
 */
export interface BatchLayout {
  /** The resources to write: all of them, or those with a point picked. */
  resources: number[];
  scopesOfResource: number[][];
  metricsOfScope: number[][];
  /** Point indices grouped by metric, or `undefined` when the batch order already is. */
  order: Uint32Array | undefined;
  /** Points of metric `m` are `order[metricStart[m] .. metricEnd[m])`. */
  metricStart: Uint32Array;
  metricEnd: Uint32Array;
}

/**
 * Points picked out of a batch: those whose `groups` entry is `group` (a partition's points,
 * by each point's partition).
 */
export interface PointPick {
  groups: ArrayLike<number>;
  group: number;
}

/** The layout of `batch`, or of the points `pick` names (see `layoutPicked`). */
export function layoutBatch(batch: MetricBatch, pick?: PointPick): BatchLayout {
  if (pick) return layoutPicked(batch, pick);
  const resources = batch.resources.map((_, r) => r);
  const scopesOfResource: number[][] = batch.resources.map(() => []);
  batch.scopes.forEach((scope, s) => {
    scopesOfResource[scope.resource].push(s);
  });
  const metricsOfScope: number[][] = batch.scopes.map(() => []);
  batch.metrics.forEach((metric, m) => {
    metricsOfScope[metric.scope].push(m);
  });

  const metricCount = batch.metrics.length;
  const n = batch.pointCount;
  const series = batch.points.series;
  const counts = new Uint32Array(metricCount);

  // One pass: count points per metric and check whether they are already contiguous.
  let grouped = true;
  let previous = -1;
  for (let i = 0; i < n; i++) {
    const m = batch.seriesMetric(series[i]);
    if (m !== previous) {
      if (counts[m] !== 0) grouped = false;
      previous = m;
    }
    counts[m]++;
  }

  if (grouped) {
    const metricStart = new Uint32Array(metricCount);
    const metricEnd = new Uint32Array(metricCount);
    previous = -1;
    for (let i = 0; i < n; i++) {
      const m = batch.seriesMetric(series[i]);
      if (m !== previous) {
        metricStart[m] = i;
        previous = m;
      }
      metricEnd[m] = i + 1;
    }
    return {
      resources,
      scopesOfResource,
      metricsOfScope,
      order: undefined,
      metricStart,
      metricEnd,
    };
  }

  return { resources, scopesOfResource, metricsOfScope, ...sortByMetric(batch, counts, n) };
}

/**
 * Point indices grouped by metric with one counting sort (`counts`: points per metric,
 * `size` in all): every point, or those `pick` names only.
 */
function sortByMetric(
  batch: MetricBatch,
  counts: Uint32Array,
  size: number,
  pick?: PointPick,
): Pick<BatchLayout, 'order' | 'metricStart' | 'metricEnd'> {
  const metricStart = new Uint32Array(counts.length);
  const metricEnd = new Uint32Array(counts.length);
  let offset = 0;
  for (let m = 0; m < counts.length; m++) {
    metricStart[m] = offset;
    metricEnd[m] = offset;
    offset += counts[m];
  }
  const order = new Uint32Array(size);
  const series = batch.points.series;
  for (let i = 0; i < batch.pointCount; i++) {
    if (pick && pick.groups[i] !== pick.group) continue;
    order[metricEnd[batch.seriesMetric(series[i])]++] = i;
  }
  return { order, metricStart, metricEnd };
}

/**
 * The layout of the points `pick` names only: resources, scopes and metrics without one of
 * them are left out (an encoder writes nothing of them), so one batch encodes as one request
 * per partition without copying it into a batch per partition first.
 */
function layoutPicked(batch: MetricBatch, { groups, group }: PointPick): BatchLayout {
  const metricCount = batch.metrics.length;
  const n = batch.pointCount;
  const series = batch.points.series;
  const counts = new Uint32Array(metricCount);
  let picked = 0;
  for (let i = 0; i < n; i++) {
    if (groups[i] !== group) continue;
    counts[batch.seriesMetric(series[i])]++;
    picked++;
  }
  const metricsOfScope: number[][] = batch.scopes.map(() => []);
  batch.metrics.forEach((metric, m) => {
    if (counts[m] > 0) metricsOfScope[metric.scope].push(m);
  });
  const scopesOfResource: number[][] = batch.resources.map(() => []);
  batch.scopes.forEach((scope, s) => {
    if (metricsOfScope[s].length > 0) scopesOfResource[scope.resource].push(s);
  });
  const resources = batch.resources.flatMap((_, r) => (scopesOfResource[r].length > 0 ? [r] : []));
  return {
    resources,
    scopesOfResource,
    metricsOfScope,
    ...sortByMetric(batch, counts, picked, { groups, group }),
  };
}
