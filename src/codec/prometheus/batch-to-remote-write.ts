import type { MetricBatch } from '../../model/metric-batch.js';
import { PointView } from '../../model/point-view.js';
import { DataPointFlags, type MetricDescriptor, MetricType } from '../../model/types.js';
import { exponentialAsClassic } from './exponential-buckets.js';
import {
  attributeLabels,
  type FamilyType,
  familyType,
  formatNumber,
  type LabelPair,
  mergeLabels,
  resourceLabels,
  scopeLabels,
  targetInfoLabels,
} from './labels.js';
import { isDelta, prometheusName, unitSuffix } from './naming.js';
import type { RemoteWriteMetadata, RemoteWriteSeries, WriteRequest } from './remote-write.js';

export interface RemoteWriteTranslation {
  namespace?: string;
  /** Unit and `_total` suffixes on metric names (the Collector's `add_metric_suffixes`). */
  addSuffixes: boolean;
  /** Every resource attribute as a label (`resource_to_telemetry_conversion`). */
  resourceToLabels: boolean;
  /** A `target_info` series per resource. */
  targetInfo: boolean;
  /** Remote write 1.0 metadata (type, help, unit) per metric family. */
  sendMetadata: boolean;
  /** Added to every series, overriding labels of the same name. */
  externalLabels: Record<string, string>;
  /** Exponential histograms as classic `le` buckets (at most `exponentialMaxBuckets` per sign), or dropped with a count. */
  exponentialHistograms: 'classic' | 'drop';
  exponentialMaxBuckets: number;
}

/** A request and the points that have no remote-write form, by reason. */
export interface TranslatedBatch {
  request: WriteRequest;
  /** Points written (a histogram point is one point, however many series it makes). */
  points: number;
  skipped: Record<string, number>;
}

const METADATA_TYPE: Record<FamilyType, number> = {
  counter: 1,
  gauge: 2,
  histogram: 3,
  summary: 5,
};

/**
 * A batch as a remote write 1.0 `WriteRequest`, translated per the OTel specification's
 * Prometheus compatibility rules: names with unit and `_total` suffixes, sanitised labels,
 * `job`/`instance` from the service attributes, `target_info` per resource, histograms as
 * `_bucket{le}` / `_sum` / `_count`, summaries as `{quantile}` / `_sum` / `_count`.
 *
 * Prometheus stores cumulative series only: delta sums and histograms are skipped (the
 * `deltatocumulative` processor converts them first), as are points flagged "no recorded
 * value". Exponential histograms become classic `le` buckets (see `exponentialAsClassic`)
 * or, if so configured, are skipped.
 */
export function batchToRemoteWrite(
  batch: MetricBatch,
  options: RemoteWriteTranslation,
): TranslatedBatch {
  const series = new Map<string, RemoteWriteSeries>();
  const metadata = new Map<string, RemoteWriteMetadata>();
  const skipped: Record<string, number> = {};
  const skip = (reason: string) => {
    skipped[reason] = (skipped[reason] ?? 0) + 1;
  };
  const external = mergeLabels(Object.entries(options.externalLabels));
  const externalNames = new Set(external.map(([name]) => name));
  const add = (name: string, pairs: LabelPair[], value: number, timestampMs: number) => {
    // External labels win over the data's labels of the same name, as in Prometheus.
    const own = mergeLabels(pairs).filter(([label]) => !externalNames.has(label));
    const labels: LabelPair[] = [['__name__', name], ...own, ...external];
    // Names sort after `__name__` except upper-case ones; Prometheus wants them in order.
    labels.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = labels.map(([k, v]) => `${k}\u0000${v}`).join('\u0001');
    let s = series.get(key);
    if (!s) {
      s = { labels, samples: [] };
      series.set(key, s);
    }
    s.samples.push({ value, timestampMs });
  };
  const identity = batch.resources.map((r) =>
    resourceLabels(r.attributes, options.resourceToLabels),
  );
  const latestMs = new Array<number>(batch.resources.length).fill(0);
  const view = new PointView(batch);
  let points = 0;
  for (let i = 0; i < batch.pointCount; i++) {
    view.at(i);
    const metric = view.metric;
    const reason = unsupported(metric, view.flags, options.exponentialHistograms);
    if (reason) {
      skip(reason);
      continue;
    }
    const scope = batch.scopes[metric.scope];
    const type = familyType(metric);
    const name = prometheusName(metric, {
      namespace: options.namespace,
      addSuffixes: options.addSuffixes,
    });
    if (options.sendMetadata && !metadata.has(name)) {
      metadata.set(name, {
        type: METADATA_TYPE[type],
        family: name,
        help: metric.description,
        unit: options.addSuffixes ? unitSuffix(metric.unit) : '',
      });
    }
    const labels = [
      ...attributeLabels(view.attributes),
      ...identity[scope.resource],
      ...scopeLabels(scope),
    ];
    const ms = Number(view.time / 1_000_000n);
    latestMs[scope.resource] = Math.max(latestMs[scope.resource], ms);
    points++;
    if (type === 'histogram') {
      const classic =
        metric.type === MetricType.ExponentialHistogram
          ? exponentialAsClassic(
              {
                scale: view.scale,
                zeroCount: Number(view.zeroCount),
                zeroThreshold: view.zeroThreshold,
                positive: view.positive,
                negative: view.negative,
              },
              options.exponentialMaxBuckets,
            )
          : { bounds: view.bounds, counts: view.bucketCounts };
      let cumulative = 0;
      for (let k = 0; k < classic.bounds.length; k++) {
        cumulative += Number(classic.counts[k] ?? 0);
        add(`${name}_bucket`, [...labels, ['le', formatNumber(classic.bounds[k])]], cumulative, ms);
      }
      const count = Number(view.count);
      add(`${name}_bucket`, [...labels, ['le', '+Inf']], count, ms);
      add(`${name}_sum`, labels, view.sum ?? 0, ms);
      add(`${name}_count`, labels, count, ms);
    } else if (type === 'summary') {
      for (const q of view.quantiles) {
        add(name, [...labels, ['quantile', formatNumber(q.quantile)]], q.value, ms);
      }
      add(`${name}_sum`, labels, view.sum ?? 0, ms);
      add(`${name}_count`, labels, Number(view.count), ms);
    } else {
      add(name, labels, view.value, ms);
    }
  }
  if (options.targetInfo) {
    for (let r = 0; r < batch.resources.length; r++) {
      const pairs = targetInfoLabels(batch.resources[r].attributes, identity[r]);
      if (pairs && latestMs[r] > 0) add('target_info', pairs, 1, latestMs[r]);
    }
  }
  const timeseries = [...series.values()];
  // Samples of one series must reach Prometheus in time order.
  for (const s of timeseries) s.samples.sort((a, b) => a.timestampMs - b.timestampMs);
  return { request: { timeseries, metadata: [...metadata.values()] }, points, skipped };
}

function unsupported(
  metric: MetricDescriptor,
  flags: number,
  exponential: 'classic' | 'drop',
): string | undefined {
  if (metric.type === MetricType.Empty) return 'empty_metric';
  if (metric.type === MetricType.ExponentialHistogram && exponential === 'drop') {
    return 'exponential_histogram';
  }
  if (
    (metric.type === MetricType.Sum ||
      metric.type === MetricType.Histogram ||
      metric.type === MetricType.ExponentialHistogram) &&
    isDelta(metric)
  ) {
    return 'delta_temporality';
  }
  if (flags & DataPointFlags.NoRecordedValue) return 'no_recorded_value';
  return undefined;
}
