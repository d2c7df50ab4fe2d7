import { bytesKey } from '../../model/key-value-bytes.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { PointView } from '../../model/point-view.js';
import { DataPointFlags, type MetricDescriptor, MetricType } from '../../model/types.js';
import { BoundedCache } from '../bounded-cache.js';
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
  return new RemoteWriteTranslator(options).translate(batch);
}

/** A series' labels in final form, and its identity as one string. */
interface FinalLabels {
  labels: LabelPair[];
  key: string;
}

/** Series whose labels are remembered across batches (roughly 1 KB each); past this the memory starts over. */
const CACHE_LIMIT = 100_000;

/**
 * `batchToRemoteWrite` for a stream of batches: the labels of a series (sanitised, merged,
 * sorted, with external labels) are worked out the first time it is seen and remembered,
 * keyed by its metric context and attribute bytes, so a steady stream pays a string and a
 * map lookup per point instead of building and sorting labels every time.
 */
export class RemoteWriteTranslator {
  readonly #options: RemoteWriteTranslation;
  readonly #external: LabelPair[];
  readonly #externalNames: Set<string>;
  readonly #cache = new BoundedCache<Map<string, FinalLabels>>(CACHE_LIMIT);

  constructor(options: RemoteWriteTranslation) {
    this.#options = options;
    this.#external = mergeLabels(Object.entries(options.externalLabels));
    this.#externalNames = new Set(this.#external.map(([name]) => name));
  }

  translate(batch: MetricBatch): TranslatedBatch {
    const options = this.#options;
    const series = new Map<string, RemoteWriteSeries>();
    const metadata = new Map<string, RemoteWriteMetadata>();
    const skipped: Record<string, number> = {};
    const identity = batch.resources.map((r) =>
      resourceLabels(r.attributes, options.resourceToLabels),
    );
    const resourceKeys = identity.map((labels) => JSON.stringify(labels));
    // Per metric of this batch: its Prometheus name and the context part of cache keys.
    const names: (string | undefined)[] = [];
    const contexts: (string | undefined)[] = [];
    /** Per batch series: the labels of every remote-write series it feeds, by feed. */
    const feeds: (Map<string, FinalLabels> | undefined)[] = [];
    const latestMs = new Array<number>(batch.resources.length).fill(0);
    const view = new PointView(batch);
    let points = 0;
    for (let i = 0; i < batch.pointCount; i++) {
      view.at(i);
      const metric = view.metric;
      const reason = unsupported(metric, view.flags, options.exponentialHistograms);
      if (reason) {
        skipped[reason] = (skipped[reason] ?? 0) + 1;
        continue;
      }
      const m = view.metricIndex;
      const scope = batch.scopes[metric.scope];
      const type = familyType(metric);
      let name = names[m];
      if (name === undefined) {
        name = prometheusName(metric, {
          namespace: options.namespace,
          addSuffixes: options.addSuffixes,
        });
        names[m] = name;
        contexts[m] = `${resourceKeys[scope.resource]}\u0002${scope.name}\u0002${scope.version}`;
        if (options.sendMetadata && !metadata.has(name)) {
          metadata.set(name, {
            type: METADATA_TYPE[type],
            family: name,
            help: metric.description,
            unit: options.addSuffixes ? unitSuffix(metric.unit) : '',
          });
        }
      }
      let feed = feeds[view.series];
      if (feed === undefined) {
        const bytes = batch.attributes.bytes(view.attributeSet);
        feed = this.#cache.get(`${contexts[m]}\u0002${bytesKey(bytes)}`, () => new Map());
        feeds[view.series] = feed;
      }
      const own = () =>
        this.#own([
          ...attributeLabels(view.attributes),
          ...identity[scope.resource],
          ...scopeLabels(scope),
        ]);
      const add = (
        family: string,
        extra: LabelPair | undefined,
        value: number,
        timestampMs: number,
      ) => {
        const feedKey = extra ? `${family}\u0000${extra[1]}` : family;
        let final = feed.get(feedKey);
        if (final === undefined) {
          final = this.#final(family, own(), extra);
          feed.set(feedKey, final);
        }
        let s = series.get(final.key);
        if (!s) {
          s = { labels: final.labels, samples: [] };
          series.set(final.key, s);
        }
        s.samples.push({ value, timestampMs });
      };
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
          add(`${name}_bucket`, ['le', formatNumber(classic.bounds[k])], cumulative, ms);
        }
        const count = Number(view.count);
        add(`${name}_bucket`, ['le', '+Inf'], count, ms);
        add(`${name}_sum`, undefined, view.sum ?? 0, ms);
        add(`${name}_count`, undefined, count, ms);
      } else if (type === 'summary') {
        for (const q of view.quantiles) {
          add(name, ['quantile', formatNumber(q.quantile)], q.value, ms);
        }
        add(`${name}_sum`, undefined, view.sum ?? 0, ms);
        add(`${name}_count`, undefined, Number(view.count), ms);
      } else {
        add(name, undefined, view.value, ms);
      }
    }
    if (options.targetInfo) {
      for (let r = 0; r < batch.resources.length; r++) {
        const pairs = targetInfoLabels(batch.resources[r].attributes, identity[r]);
        if (!pairs || latestMs[r] === 0) continue;
        const final = this.#final('target_info', this.#own(pairs));
        const s = series.get(final.key) ?? { labels: final.labels, samples: [] };
        series.set(final.key, s);
        s.samples.push({ value: 1, timestampMs: latestMs[r] });
      }
    }
    const timeseries = [...series.values()];
    // Samples of one series must reach Prometheus in time order.
    for (const s of timeseries) s.samples.sort((a, b) => a.timestampMs - b.timestampMs);
    return { request: { timeseries, metadata: [...metadata.values()] }, points, skipped };
  }

  /** The data's labels, sanitised and merged; external labels win over the same names. */
  #own(pairs: LabelPair[]): LabelPair[] {
    return mergeLabels(pairs).filter(([label]) => !this.#externalNames.has(label));
  }

  #final(name: string, own: LabelPair[], extra?: LabelPair): FinalLabels {
    const labels: LabelPair[] = [['__name__', name], ...this.#external];
    for (const pair of own) if (!extra || pair[0] !== extra[0]) labels.push(pair);
    if (extra) labels.push(extra);
    // Names sort after `__name__` except upper-case ones; Prometheus wants them in order.
    labels.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return { labels, key: labels.map(([k, v]) => `${k}\u0000${v}`).join('\u0001') };
  }
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
