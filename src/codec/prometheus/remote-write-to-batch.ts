import type { KeyValue } from '../../model/any-value.js';
import { MetricBatch } from '../../model/metric-batch.js';
import { MetricType, Temporality } from '../../model/types.js';
import type { RemoteWriteMetadata, WriteRequest } from './remote-write.js';

interface Group {
  attributes: KeyValue[];
  /** Histograms: cumulative count per `le`; summaries: value per quantile. */
  buckets: Map<number, number>;
  sum?: number;
  count?: number;
}

/**
 * Prometheus remote write → OTel metrics, the way the OpenTelemetry Collector maps
 * Prometheus data: `job` and `instance` become `service.name` (`service.namespace` before a
 * `/`) and `service.instance.id`; counters (metadata type, or a `_total` name) become
 * monotonic cumulative sums without the suffix; classic histograms (`_bucket{le}`, `_sum`,
 * `_count`) become histograms; summaries (`{quantile}`, `_sum`, `_count`) become summaries;
 * everything else becomes a gauge. Timestamps are milliseconds; start times are unknown.
 */
export function remoteWriteToBatch(request: WriteRequest): MetricBatch {
  const batch = new MetricBatch({ points: request.timeseries.length });
  const meta = new Map<string, RemoteWriteMetadata>(request.metadata.map((m) => [m.family, m]));
  const names = new Set(request.timeseries.map((s) => labelValue(s.labels, '__name__')));
  const quantileNames = new Set(
    request.timeseries
      .filter((s) => s.labels.some(([k]) => k === 'quantile'))
      .map((s) => labelValue(s.labels, '__name__')),
  );
  const resources = new Map<string, number>();
  const scopes = new Map<number, number>();
  const metrics = new Map<string, number>();
  const distributions = new Map<
    string,
    { scope: number; family: string; type: MetricType; byTime: Map<number, Group> }
  >();

  const scopeOf = (job: string, instance: string) => {
    const key = `${job}\u0000${instance}`;
    let r = resources.get(key);
    if (r === undefined) {
      const slash = job.indexOf('/');
      const attributes: Record<string, string> = {};
      if (job) {
        if (slash > 0) {
          attributes['service.namespace'] = job.slice(0, slash);
          attributes['service.name'] = job.slice(slash + 1);
        } else attributes['service.name'] = job;
      }
      if (instance) attributes['service.instance.id'] = instance;
      r = batch.addResource({ attributes });
      resources.set(key, r);
      scopes.set(r, batch.addScope(r, { name: 'sluice/prometheusremotewrite' }));
    }
    return { resource: r, scope: scopes.get(r)! };
  };
  const metricOf = (
    scope: number,
    name: string,
    type: MetricType,
    help: string,
    unit: string,
    monotonic = false,
  ) => {
    const key = `${scope}\u0000${name}\u0000${type}`;
    let m = metrics.get(key);
    if (m === undefined) {
      m = batch.addMetric(scope, {
        name,
        type,
        description: help,
        unit,
        temporality:
          type === MetricType.Gauge || type === MetricType.Summary
            ? Temporality.Unspecified
            : Temporality.Cumulative,
        monotonic,
      });
      metrics.set(key, m);
    }
    return m;
  };

  // Per request: a name's family is worked out once, and a timestamp's nanoseconds too.
  const families = new Map<string, Family>();
  let lastMs = Number.NaN;
  let lastTime = 0n;
  const timeOf = (ms: number) => {
    if (ms !== lastMs) {
      lastMs = ms;
      lastTime = BigInt(ms) * 1_000_000n;
    }
    return lastTime;
  };

  for (const series of request.timeseries) {
    // One pass over the labels: the name, the resource's, and the rest as attributes.
    let name = '';
    let job = '';
    let instance = '';
    let hasQuantile = false;
    const plain: KeyValue[] = [];
    for (const [key, value] of series.labels) {
      if (key === '__name__') name = value;
      else if (key === 'job') job = value;
      else if (key === 'instance') instance = value;
      else {
        if (key === 'quantile') hasQuantile = true;
        plain.push({ key, value });
      }
    }
    if (!name) continue;
    const { scope } = scopeOf(job, instance);
    const familyKey = hasQuantile ? `${name}\u0000quantile` : name;
    let family = families.get(familyKey);
    if (family === undefined) {
      family = familyOf(name, meta, names, quantileNames, hasQuantile);
      families.set(familyKey, family);
    }
    if (family.type === MetricType.Histogram || family.type === MetricType.Summary) {
      const special = family.type === MetricType.Histogram ? 'le' : 'quantile';
      const attributes = plain.filter(({ key }) => key !== special);
      const key = `${scope}\u0000${family.name}\u0000${JSON.stringify(attributes)}`;
      let d = distributions.get(key);
      if (!d) {
        d = { scope, family: family.name, type: family.type, byTime: new Map() };
        distributions.set(key, d);
      }
      const boundText = labelValue(series.labels, special);
      const bound = boundText === '+Inf' ? Number.POSITIVE_INFINITY : Number(boundText);
      for (const sample of series.samples) {
        let group = d.byTime.get(sample.timestampMs);
        if (!group) {
          group = { attributes, buckets: new Map() };
          d.byTime.set(sample.timestampMs, group);
        }
        if (name.endsWith('_sum')) group.sum = sample.value;
        else if (name.endsWith('_count')) group.count = sample.value;
        else group.buckets.set(bound, sample.value);
      }
      continue;
    }
    const m = metricOf(
      scope,
      family.name,
      family.type,
      family.help,
      family.unit,
      family.type === MetricType.Sum,
    );
    const s = batch.series(m, plain);
    for (const sample of series.samples)
      batch.addNumberPoint(s, { time: timeOf(sample.timestampMs), value: sample.value });
  }

  for (const d of distributions.values()) {
    const info = meta.get(d.family);
    const m = metricOf(d.scope, d.family, d.type, info?.help ?? '', info?.unit ?? '');
    for (const [timestampMs, group] of d.byTime) {
      const s = batch.series(m, group.attributes);
      const time = BigInt(timestampMs) * 1_000_000n;
      if (d.type === MetricType.Summary) {
        const quantiles = [...group.buckets]
          .sort(([a], [b]) => a - b)
          .map(([quantile, value]) => ({ quantile, value }));
        batch.addSummaryPoint(s, {
          time,
          count: Math.round(group.count ?? 0),
          sum: group.sum ?? 0,
          quantiles,
        });
        continue;
      }
      const entries = [...group.buckets].sort(([a], [b]) => a - b);
      const bounds = entries.filter(([le]) => Number.isFinite(le)).map(([le]) => le);
      const total = group.count ?? entries.at(-1)?.[1] ?? 0;
      const counts: number[] = [];
      let previous = 0;
      for (const [le, cumulative] of entries) {
        if (!Number.isFinite(le)) continue;
        counts.push(Math.max(0, Math.round(cumulative - previous)));
        previous = cumulative;
      }
      counts.push(Math.max(0, Math.round(total - previous)));
      batch.addHistogramPoint(s, {
        time,
        count: Math.round(total),
        sum: group.sum,
        bounds,
        bucketCounts: counts,
      });
    }
  }
  return batch;
}

interface Family {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
}

function familyOf(
  name: string,
  meta: Map<string, RemoteWriteMetadata>,
  names: Set<string>,
  quantileNames: Set<string>,
  hasQuantile: boolean,
): Family {
  const strip = (suffix: string) =>
    name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined;
  const described = (family: string, type: MetricType) => ({
    name: family,
    type,
    help: meta.get(family)?.help ?? meta.get(name)?.help ?? '',
    unit: meta.get(family)?.unit ?? '',
  });
  const base = strip('_bucket') ?? strip('_sum') ?? strip('_count');
  if (base !== undefined) {
    const type = meta.get(base)?.type;
    if (type === 3 || names.has(`${base}_bucket`)) return described(base, MetricType.Histogram);
    if (type === 5 || quantileNames.has(base)) return described(base, MetricType.Summary);
  }
  if (hasQuantile) return described(name, MetricType.Summary);
  const counterBase = strip('_total');
  const type =
    meta.get(name)?.type ?? (counterBase !== undefined ? meta.get(counterBase)?.type : undefined);
  if (type === 1 || (type === undefined && counterBase !== undefined))
    return described(counterBase ?? name, MetricType.Sum);
  return described(name, MetricType.Gauge);
}

function labelValue(labels: [string, string][], key: string): string {
  for (const [k, v] of labels) if (k === key) return v;
  return '';
}
