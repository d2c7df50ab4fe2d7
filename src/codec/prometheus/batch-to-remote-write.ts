import type { MetricBatch } from '../../model/metric-batch.js';
import { PointView } from '../../model/point-view.js';
import { DataPointFlags, type MetricDescriptor, MetricType } from '../../model/types.js';
import { u64NanosToMillis, u64Number } from '../../model/wire.js';
import { SeriesCache } from '../series-cache.js';
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
import {
  encodeLabels,
  type RemoteWriteMetadata,
  type RemoteWriteSeries,
  type WriteRequest,
} from './remote-write.js';

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
  /** `labels` encoded once: a request copies them instead of encoding every label again. */
  labelBytes: Uint8Array;
  key: string;
  /** The request series these labels got in translation number `translation`. */
  series: RemoteWriteSeries | undefined;
  translation: number;
}

/**
 * What one OTel series (metric context + attribute bytes) becomes, remembered across
 * batches: its own labels, the final labels of a number point, and those of an explicit
 * histogram's `_bucket` (one per bound, then `+Inf`), `_sum` and `_count` series for the
 * bounds they were made for. Other shapes go through `byFamily`.
 */
interface Feed {
  own: LabelPair[] | undefined;
  plain: FinalLabels | undefined;
  histogram: { bounds: Float64Array; finals: FinalLabels[] } | undefined;
  byFamily: Map<string, FinalLabels>;
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
  readonly #feeds: SeriesCache<Feed>;
  #translations = 0;

  /** `cacheLimit`: OTel series whose translation is remembered; past it the cache starts over. */
  constructor(options: RemoteWriteTranslation, cacheLimit = CACHE_LIMIT) {
    this.#options = options;
    this.#feeds = new SeriesCache(cacheLimit);
    this.#external = mergeLabels(Object.entries(options.externalLabels));
    this.#externalNames = new Set(this.#external.map(([name]) => name));
  }

  translate(batch: MetricBatch): TranslatedBatch {
    const options = this.#options;
    const translation = ++this.#translations;
    const series = new Map<string, RemoteWriteSeries>();
    const metadata = new Map<string, RemoteWriteMetadata>();
    const skipped: Record<string, number> = {};
    const identity = batch.resources.map((r) =>
      resourceLabels(r.attributes, options.resourceToLabels),
    );
    const resourceKeys = identity.map((labels) => JSON.stringify(labels));
    // Per metric of this batch: its Prometheus name and the feeds of its context.
    const names: (string | undefined)[] = [];
    const contextFeeds: Map<string, Feed>[] = [];
    /** Per batch series: what it becomes in remote write. */
    const feeds: (Feed | undefined)[] = [];
    const latestMs = new Array<number>(batch.resources.length).fill(0);
    const view = new PointView(batch);
    const { points: columns, distributions: d } = batch;
    const times = columns.time.u32;
    // Points of a batch mostly share their time: its milliseconds are worked out once.
    let lastHi = -1;
    let lastLo = -1;
    let ms = 0;
    const sample = (final: FinalLabels, value: number) => {
      if (final.translation !== translation) {
        final.translation = translation;
        // Different OTel series can map to the same Prometheus labels: one request series.
        let s = series.get(final.key);
        if (!s) {
          s = { labels: final.labels, labelBytes: final.labelBytes, samples: [] };
          series.set(final.key, s);
        }
        final.series = s;
      }
      final.series!.samples.push({ value, timestampMs: ms });
    };
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
        // The feed cache key: what makes the labels (resource, scope, name) + attributes.
        contextFeeds[m] = this.#feeds.context(
          `${resourceKeys[scope.resource]}\u0002${scope.name}\u0002${scope.version}\u0002${name}`,
        );
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
        feed = this.#feeds.get(contextFeeds[m], batch.attributes.bytes(view.attributeSet), newFeed);
        feeds[view.series] = feed;
      }
      feed.own ??= this.#own([
        ...attributeLabels(view.attributes),
        ...identity[scope.resource],
        ...scopeLabels(scope),
      ]);
      const own = feed.own;
      const hi = times[2 * i + 1];
      const lo = times[2 * i];
      if (hi !== lastHi || lo !== lastLo) {
        lastHi = hi;
        lastLo = lo;
        ms = u64NanosToMillis(times, i);
      }
      latestMs[scope.resource] = Math.max(latestMs[scope.resource], ms);
      points++;
      if (metric.type === MetricType.Histogram) {
        const row = columns.detail[i];
        const finals = this.#histogramFinals(feed, name, own, d.floats, row, d);
        const bounds = d.boundsLength[row];
        const counts = d.bucketCounts.u32;
        const at = d.positiveStart[row];
        const present = d.positiveLength[row];
        let cumulative = 0;
        for (let k = 0; k < bounds; k++) {
          if (k < present) cumulative += u64Number(counts, at + k);
          sample(finals[k], cumulative);
        }
        const count = u64Number(d.total.u32, row);
        sample(finals[bounds], count);
        sample(finals[bounds + 1], view.sum ?? 0);
        sample(finals[bounds + 2], count);
        continue;
      }
      if (type !== 'histogram' && type !== 'summary') {
        feed.plain ??= this.#final(name, own);
        sample(feed.plain, view.value);
        continue;
      }
      // Exponential histograms and summaries: their series vary with the data.
      const byFamily = feed.byFamily;
      const add = (family: string, extra: LabelPair | undefined, value: number) => {
        const feedKey = extra ? `${family}\u0000${extra[1]}` : family;
        let final = byFamily.get(feedKey);
        if (final === undefined) {
          final = this.#final(family, own, extra);
          byFamily.set(feedKey, final);
        }
        sample(final, value);
      };
      if (type === 'histogram') {
        const classic = exponentialAsClassic(
          {
            scale: view.scale,
            zeroCount: Number(view.zeroCount),
            zeroThreshold: view.zeroThreshold,
            positive: view.positive,
            negative: view.negative,
          },
          options.exponentialMaxBuckets,
        );
        let cumulative = 0;
        for (let k = 0; k < classic.bounds.length; k++) {
          cumulative += Number(classic.counts[k] ?? 0);
          add(`${name}_bucket`, ['le', formatNumber(classic.bounds[k])], cumulative);
        }
        const count = Number(view.count);
        add(`${name}_bucket`, ['le', '+Inf'], count);
        add(`${name}_sum`, undefined, view.sum ?? 0);
        add(`${name}_count`, undefined, count);
      } else {
        for (const q of view.quantiles) add(name, ['quantile', formatNumber(q.quantile)], q.value);
        add(`${name}_sum`, undefined, view.sum ?? 0);
        add(`${name}_count`, undefined, Number(view.count));
      }
    }
    if (options.targetInfo) {
      for (let r = 0; r < batch.resources.length; r++) {
        const pairs = targetInfoLabels(batch.resources[r].attributes, identity[r]);
        if (!pairs || latestMs[r] === 0) continue;
        ms = latestMs[r];
        sample(this.#final('target_info', this.#own(pairs)), 1);
      }
    }
    const timeseries = [...series.values()];
    // Samples of one series must reach Prometheus in time order.
    for (const s of timeseries) {
      if (s.samples.length > 1) s.samples.sort((a, b) => a.timestampMs - b.timestampMs);
    }
    return { request: { timeseries, metadata: [...metadata.values()] }, points, skipped };
  }

  /**
   * The final labels of an explicit histogram's series, in the order the point's values
   * come: one `_bucket` per bound, `+Inf`, `_sum`, `_count`. Made once per OTel series and
   * bucket layout, so a point costs no label or string work at all.
   */
  #histogramFinals(
    feed: Feed,
    name: string,
    own: LabelPair[],
    floats: Float64Array,
    row: number,
    d: MetricBatch['distributions'],
  ): FinalLabels[] {
    const start = d.boundsStart[row];
    const length = d.boundsLength[row];
    const cached = feed.histogram;
    if (cached && sameFloats(cached.bounds, floats, start, length)) return cached.finals;
    const bounds = floats.slice(start, start + length);
    const bucket = `${name}_bucket`;
    const finals = [...bounds].map((b) => this.#final(bucket, own, ['le', formatNumber(b)]));
    finals.push(
      this.#final(bucket, own, ['le', '+Inf']),
      this.#final(`${name}_sum`, own),
      this.#final(`${name}_count`, own),
    );
    feed.histogram = { bounds, finals };
    return finals;
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
    return {
      labels,
      labelBytes: encodeLabels(labels),
      key: labels.map(([k, v]) => `${k}\u0000${v}`).join('\u0001'),
      series: undefined,
      translation: 0,
    };
  }
}

function newFeed(): Feed {
  return { own: undefined, plain: undefined, histogram: undefined, byFamily: new Map() };
}

/** Same doubles, bit for bit but for -0 and 0 (`le` labels print them alike). */
function sameFloats(a: Float64Array, floats: Float64Array, start: number, length: number): boolean {
  if (a.length !== length) return false;
  for (let k = 0; k < length; k++) {
    const x = a[k];
    const y = floats[start + k];
    if (x !== y && !(Number.isNaN(x) && Number.isNaN(y))) return false;
  }
  return true;
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
