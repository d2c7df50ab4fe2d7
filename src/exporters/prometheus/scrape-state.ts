import { exponentialAsClassic } from '../../codec/prometheus/exponential-buckets.js';
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
} from '../../codec/prometheus/labels.js';
import { isDelta, prometheusName, unitSuffix } from '../../codec/prometheus/naming.js';
import type { KeyValue } from '../../model/any-value.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { PointView } from '../../model/point-view.js';
import { DataPointFlags, MetricType } from '../../model/types.js';

export interface ScrapeOptions {
  namespace?: string;
  constLabels: Record<string, string>;
  addSuffixes: boolean;
  /** Put every resource attribute on every series (instead of only on `target_info`). */
  resourceToLabels: boolean;
  sendTimestamps: boolean;
  /** Forget series not updated for this long. */
  expirationMs: number;
}

interface Series {
  labels: string;
  value: number;
  bounds?: number[];
  counts?: number[];
  sum?: number;
  count?: number;
  quantiles?: { quantile: number; value: number }[];
  updatedAt: number;
  timestampMs: number;
}

interface Family {
  name: string;
  type: FamilyType;
  help: string;
  unit: string;
  series: Map<string, Series>;
}

/** Bucket bounds per sign when an exponential histogram is shown as a classic one. */
const EXPONENTIAL_MAX_BUCKETS = 32;

/**
 * What a `prometheus` scrape endpoint serves: the latest value of every series, updated from
 * batches (delta sums and histograms accumulated into cumulative ones, as Prometheus needs),
 * rendered as text format 0.0.4 or OpenMetrics 1.0. Series not updated for
 * `metric_expiration` disappear. Cumulative exponential histograms are exposed as classic
 * `le` buckets (at most 32 per sign, see `exponentialAsClassic`); delta ones cannot be
 * accumulated that way and are counted in `skipped`.
 */
export class ScrapeState {
  readonly #options: ScrapeOptions;
  readonly #families = new Map<string, Family>();
  /** Points that could not be exposed, by reason. */
  readonly skipped: Record<string, number> = {};

  constructor(options: ScrapeOptions) {
    this.#options = options;
  }

  update(batch: MetricBatch, now = Date.now()): void {
    const identity = batch.resources.map((resource) =>
      resourceLabels(resource.attributes, this.#options.resourceToLabels),
    );
    for (let r = 0; r < batch.resources.length; r++) {
      this.#targetInfo(batch.resources[r].attributes, identity[r], now);
    }
    const view = new PointView(batch);
    for (let i = 0; i < batch.pointCount; i++) {
      view.at(i);
      const metric = view.metric;
      if (view.flags & DataPointFlags.NoRecordedValue) continue;
      const exponential = metric.type === MetricType.ExponentialHistogram;
      // Delta exponential histograms cannot be summed as classic buckets: their bounds
      // follow the data and change from one point to the next.
      if (metric.type === MetricType.Empty || (exponential && isDelta(metric))) {
        const reason = exponential ? 'delta_exponential_histogram' : 'empty_metric';
        this.skipped[reason] = (this.skipped[reason] ?? 0) + 1;
        continue;
      }
      const scope = batch.scopes[metric.scope];
      const type = familyType(metric);
      const name = prometheusName(metric, {
        namespace: this.#options.namespace,
        addSuffixes: this.#options.addSuffixes,
      });
      const family = this.#family(
        name,
        type,
        metric.description,
        this.#options.addSuffixes ? unitSuffix(metric.unit) : '',
      );
      const labels = renderLabels([
        ...attributeLabels(view.attributes),
        ...identity[scope.resource],
        ...scopeLabels(scope),
        ...Object.entries(this.#options.constLabels),
      ]);
      const timestampMs = Number(view.time / 1_000_000n);
      let series = family.series.get(labels);
      const accumulate = isDelta(metric) && series !== undefined;
      if (!series) {
        series = { labels, value: 0, updatedAt: now, timestampMs };
        family.series.set(labels, series);
      }
      series.updatedAt = now;
      series.timestampMs = timestampMs;
      if (type === 'histogram') {
        const classic = exponential
          ? exponentialAsClassic(
              {
                scale: view.scale,
                zeroCount: Number(view.zeroCount),
                zeroThreshold: view.zeroThreshold,
                positive: view.positive,
                negative: view.negative,
              },
              EXPONENTIAL_MAX_BUCKETS,
            )
          : { bounds: [...view.bounds], counts: [...view.bucketCounts].map(Number) };
        const { bounds, counts } = classic;
        const sameBounds =
          series.bounds !== undefined &&
          series.bounds.length === bounds.length &&
          series.bounds.every((b, k) => b === bounds[k]);
        if (accumulate && sameBounds && series.counts) {
          for (let k = 0; k < counts.length; k++) series.counts[k] += counts[k];
          series.sum = (series.sum ?? 0) + (view.sum ?? 0);
          series.count = (series.count ?? 0) + Number(view.count);
        } else {
          series.bounds = bounds;
          series.counts = counts;
          series.sum = view.sum ?? 0;
          series.count = Number(view.count);
        }
      } else if (type === 'summary') {
        series.quantiles = view.quantiles;
        series.sum = view.sum ?? 0;
        series.count = Number(view.count);
      } else {
        series.value = accumulate ? series.value + view.value : view.value;
      }
    }
  }

  /** Text format 0.0.4 (`openMetrics: false`) or OpenMetrics 1.0 text. */
  render(openMetrics: boolean, now = Date.now()): string {
    this.#expire(now);
    let out = '';
    const stamp = (s: Series) =>
      this.#options.sendTimestamps ? ` ${openMetrics ? s.timestampMs / 1000 : s.timestampMs}` : '';
    for (const family of this.#families.values()) {
      if (family.series.size === 0) continue;
      const base =
        openMetrics && family.type === 'counter' ? family.name.replace(/_total$/, '') : family.name;
      if (family.help) out += `# HELP ${base} ${escapeHelp(family.help)}\n`;
      out += `# TYPE ${base} ${family.type}\n`;
      if (openMetrics && family.unit && base.endsWith(`_${family.unit}`))
        out += `# UNIT ${base} ${family.unit}\n`;
      for (const s of family.series.values()) {
        if (family.type === 'histogram') {
          let cumulative = 0;
          const bounds = s.bounds ?? [];
          const counts = s.counts ?? [];
          for (let k = 0; k < bounds.length; k++) {
            cumulative += counts[k] ?? 0;
            out += `${family.name}_bucket${withLabel(s.labels, 'le', formatNumber(bounds[k]))} ${cumulative}${stamp(s)}\n`;
          }
          out += `${family.name}_bucket${withLabel(s.labels, 'le', '+Inf')} ${s.count}${stamp(s)}\n`;
          out += `${family.name}_sum${braces(s.labels)} ${formatNumber(s.sum ?? 0)}${stamp(s)}\n`;
          out += `${family.name}_count${braces(s.labels)} ${s.count}${stamp(s)}\n`;
        } else if (family.type === 'summary') {
          for (const q of s.quantiles ?? [])
            out += `${family.name}${withLabel(s.labels, 'quantile', formatNumber(q.quantile))} ${formatNumber(q.value)}${stamp(s)}\n`;
          out += `${family.name}_sum${braces(s.labels)} ${formatNumber(s.sum ?? 0)}${stamp(s)}\n`;
          out += `${family.name}_count${braces(s.labels)} ${s.count}${stamp(s)}\n`;
        } else {
          out += `${family.name}${braces(s.labels)} ${formatNumber(s.value)}${stamp(s)}\n`;
        }
      }
    }
    return openMetrics ? `${out}# EOF\n` : out;
  }

  #family(name: string, type: FamilyType, help: string, unit: string): Family {
    let family = this.#families.get(name);
    if (!family) {
      family = { name, type, help, unit, series: new Map() };
      this.#families.set(name, family);
    }
    return family;
  }

  /** `target_info`: the resource attributes other than the job/instance identity, value 1. */
  #targetInfo(attributes: KeyValue[], identity: LabelPair[], now: number): void {
    const pairs = targetInfoLabels(attributes, identity);
    if (!pairs) return;
    const family = this.#family('target_info', 'gauge', 'Target metadata', '');
    const labels = renderLabels(pairs);
    family.series.set(labels, { labels, value: 1, updatedAt: now, timestampMs: now });
  }

  #expire(now: number): void {
    for (const family of this.#families.values()) {
      for (const [key, s] of family.series)
        if (now - s.updatedAt > this.#options.expirationMs) family.series.delete(key);
    }
  }
}

/** Labels in text-format form: `name="value",...`. */
function renderLabels(pairs: LabelPair[]): string {
  return mergeLabels(pairs)
    .map(([name, value]) => `${name}="${escapeValue(value)}"`)
    .join(',');
}

function braces(labels: string): string {
  return labels ? `{${labels}}` : '';
}

function withLabel(labels: string, name: string, value: string): string {
  return `{${labels ? `${labels},` : ''}${name}="${value}"}`;
}

function escapeValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
