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
import type {
  MetricsRequestVisitor,
  PointRecord,
  ScannedMetric,
} from '../../model/request-visitor.js';
import { DataPointFlags, type MetricDescriptor, MetricType, PointBits } from '../../model/types.js';
import { nanosToMillis, u64NanosToMillis, u64Number, u64NumberAt } from '../../model/wire.js';
import { type Entry, type ScopeSeries, SeriesIndex } from './series-index.js';

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
  /** The labels are ASCII: their lines can be copied into the output byte for byte. */
  ascii: boolean;
  value: number;
  bounds?: number[];
  counts?: number[];
  sum?: number;
  count?: number;
  quantiles?: { quantile: number; value: number }[];
  updatedAt: number;
  timestampMs: number;
}

class Family {
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
  readonly unit: string;
  /** By label text: what is rendered (two keys whose labels come out alike share one). */
  readonly series = new Map<string, Series>();
  /**
   * By the resource's and scope's label text and the attribute set's wire bytes, so a point
   * of a known series finds it without decoding its attributes or rendering its labels (the
   * costly part of an update).
   */
  readonly keys = new SeriesIndex<Series>();
  /**
   * Histogram bounds seen last, shared by every series that has the same ones (they nearly
   * always do), with their `le` label text rendered once.
   */
  #bounds: number[] = [];
  #leTexts = new Map<number[], string[]>();

  constructor(name: string, type: FamilyType, help: string, unit: string) {
    this.name = name;
    this.type = type;
    this.help = help;
    this.unit = unit;
  }

  /**
   * The `length` little-endian doubles at byte `at` of `view` as bounds shared with the
   * series before that had the same ones.
   */
  sharedBounds(view: DataView, at: number, length: number): number[] {
    const last = this.#bounds;
    if (last.length === length) {
      let same = true;
      for (let k = 0; k < length && same; k++) same = last[k] === view.getFloat64(at + 8 * k, true);
      if (same) return last;
    }
    const bounds = new Array<number>(length);
    for (let k = 0; k < length; k++) bounds[k] = view.getFloat64(at + 8 * k, true);
    this.#bounds = bounds;
    return bounds;
  }

  /** The `le` values of `bounds`, rendered once per shared array. */
  leTexts(bounds: number[]): string[] {
    let texts = this.#leTexts.get(bounds);
    if (!texts) {
      if (this.#leTexts.size > 64) this.#leTexts.clear();
      texts = bounds.map(formatNumber);
      this.#leTexts.set(bounds, texts);
    }
    return texts;
  }
}

/** What a batch's metric maps to, worked out once per batch. */
type MetricPlan =
  | { skip: string }
  | { skip?: undefined; family: Family; delta: boolean; exponential: boolean };

/** A scanned metric's family, and its series under the request's resource and scope. */
interface ScanPlan {
  family: Family;
  delta: boolean;
  series: ScopeSeries<Series>;
  /** The entry of the metric's point before (the next one is guessed from it). */
  previous: Entry<Series> | undefined;
}

/** Rendered text is handed out in pieces of about this many bytes. */
const CHUNK_BYTES = 1024 * 1024;
const ASCII = /^\p{ASCII}*$/u;

/**
 * Lines written into 1 MiB buffers: `write(line, true)` copies an ASCII line as Latin-1
 * (the same bytes, no encoding), anything else is encoded as UTF-8. `full()` hands out a
 * buffer once it is nearly full; `rest()` the last one.
 */
class ChunkWriter {
  #buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  #used = 0;

  write(line: string, ascii: boolean): void {
    const most = ascii ? line.length : line.length * 3;
    if (this.#used + most > this.#buffer.length) this.#grow(most);
    this.#used += this.#buffer.write(line, this.#used, ascii ? 'latin1' : 'utf8');
  }

  /** Text that may not be ASCII (help, unit). */
  text(line: string): void {
    this.write(line, false);
  }

  /** The current buffer when it is past 7/8 full (a new one takes its place). */
  full(): Buffer | undefined {
    if (this.#used < (CHUNK_BYTES * 7) / 8) return undefined;
    return this.rest();
  }

  rest(): Buffer {
    const done = this.#buffer.subarray(0, this.#used);
    this.#buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    this.#used = 0;
    return done;
  }

  /** Room for `bytes` more: the filled part moves into a larger buffer (a rare long line). */
  #grow(bytes: number): void {
    const larger = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#used + bytes));
    this.#buffer.copy(larger, 0, 0, this.#used);
    this.#buffer = larger;
  }
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
export class ScrapeState implements MetricsRequestVisitor {
  readonly #options: ScrapeOptions;
  readonly #constLabels: LabelPair[];
  readonly #families = new Map<string, Family>();
  /** A histogram point's bucket counts as numbers, reused point after point. */
  #counts = new Float64Array(64);
  /** Points that could not be exposed, by reason. */
  readonly skipped: Record<string, number> = {};
  /**
   * A scanned request (see `MetricsRequestVisitor`): its resources' target info, applied
   * when its points are taken; the plan of the metric being read; each checked point's
   * series and plan; how many were taken.
   */
  #scanNow = 0;
  #scanResources: [KeyValue[], LabelPair[]][] = [];
  #scanPlan: ScanPlan | undefined;
  #scanSeries: Series[] = [];
  #scanPlans: ScanPlan[] = [];
  #scanTaken = 0;
  /** The last (resource, scope) a scan resolved, and its key: most requests have one. */
  #scopeKeyOf: { attributes: KeyValue[]; name: string; version: string; key: string } | undefined;

  constructor(options: ScrapeOptions) {
    this.#options = options;
    this.#constLabels = Object.entries(options.constLabels);
  }

  update(batch: MetricBatch, now = Date.now()): void {
    const identity = batch.resources.map((resource) =>
      resourceLabels(resource.attributes, this.#options.resourceToLabels),
    );
    for (let r = 0; r < batch.resources.length; r++) {
      this.#targetInfo(batch.resources[r].attributes, identity[r], now);
    }
    const plans: (MetricPlan | undefined)[] = [];
    // Per scope: the label pairs its series share, and that text as the start of their keys.
    const scopePairs: (LabelPair[] | undefined)[] = [];
    const scopeKeys: (string | undefined)[] = [];
    const constLabels = this.#constLabels;
    const view = new PointView(batch);
    const pointSeries = batch.points.series;
    const times = batch.points.time.u32;
    const table = batch.attributes;
    const distributions = batch.distributions;
    const floats = distributions.floats;
    const floatsView = new DataView(floats.buffer, floats.byteOffset, floats.byteLength);
    const countsView = new DataView(distributions.bucketCounts.u8.buffer);
    for (let i = 0; i < batch.pointCount; i++) {
      view.at(i);
      const metric = view.metric;
      if (view.flags & DataPointFlags.NoRecordedValue) continue;
      const seriesId = pointSeries[i];
      const m = batch.seriesMetric(seriesId);
      plans[m] ??= this.#plan(batch.metrics[m]);
      const plan = plans[m];
      if (plan.skip !== undefined) {
        this.skipped[plan.skip] = (this.skipped[plan.skip] ?? 0) + 1;
        continue;
      }
      const { family, exponential } = plan;
      const scopeIndex = metric.scope;
      let pairs = scopePairs[scopeIndex];
      if (pairs === undefined) {
        const scope = batch.scopes[scopeIndex];
        pairs = [...identity[scope.resource], ...scopeLabels(scope), ...constLabels];
        scopePairs[scopeIndex] = pairs;
        scopeKeys[scopeIndex] = scopeKeyOf(pairs);
      }
      const scopeKey = scopeKeys[scopeIndex]!;
      const set = batch.seriesAttributes(seriesId);
      const hash = table.hash(set);
      let series = family.keys.find(
        scopeKey,
        hash,
        table.arenaView,
        table.start(set),
        table.end(set),
      );
      const accumulate = plan.delta && series !== undefined;
      if (!series) {
        const labels = renderLabels([...attributeLabels(view.attributes), ...pairs]);
        series = family.series.get(labels);
        if (!series) {
          series = { labels, ascii: ASCII.test(labels), value: 0, updatedAt: now, timestampMs: 0 };
          family.series.set(labels, series);
        }
        family.keys.add(scopeKey, hash, table.arena, table.start(set), table.end(set), series);
      }
      series.updatedAt = now;
      series.timestampMs = u64NanosToMillis(times, i);
      if (family.type === 'histogram') {
        const count = u64Number(distributions.total.u32, batch.points.detail[i]);
        if (exponential) {
          const { bounds, counts } = exponentialAsClassic(
            {
              scale: view.scale,
              zeroCount: Number(view.zeroCount),
              zeroThreshold: view.zeroThreshold,
              positive: view.positive,
              negative: view.negative,
            },
            EXPONENTIAL_MAX_BUCKETS,
          );
          setHistogram(series, bounds, counts, count, view.sum ?? 0, accumulate);
        } else {
          const row = batch.points.detail[i];
          const bounds = family.sharedBounds(
            floatsView,
            8 * distributions.boundsStart[row],
            distributions.boundsLength[row],
          );
          const counts = this.#countsOf(
            countsView,
            8 * distributions.positiveStart[row],
            distributions.positiveLength[row],
          );
          setHistogram(series, bounds, counts, count, view.sum ?? 0, accumulate);
        }
      } else if (family.type === 'summary') {
        series.quantiles = view.quantiles;
        series.sum = view.sum ?? 0;
        series.count = Number(view.count);
      } else {
        series.value = accumulate ? series.value + view.value : view.value;
      }
    }
  }

  /**
   * `length` little-endian u64 bucket counts at byte `at` of `view` as numbers, in an array
   * reused point after point (a `bigint` per bucket was most of a histogram point's cost).
   */
  #countsOf(view: DataView, at: number, length: number): Float64Array {
    if (this.#counts.length < length) this.#counts = new Float64Array(length * 2);
    const counts = this.#counts.subarray(0, length);
    for (let k = 0; k < length; k++) counts[k] = u64NumberAt(view, at + 8 * k);
    return counts;
  }

  /** Starts a scanned request (see `MetricsRequestVisitor`). */
  beginScan(): void {
    this.#scanNow = Date.now();
    this.#scanResources = [];
    this.#scanPlan = undefined;
    this.#scanSeries.length = 0;
    this.#scanPlans.length = 0;
    this.#scanTaken = 0;
  }

  /**
   * A scanned metric: taken when it maps to a family of its own kind (a gauge or counter, or
   * an explicit histogram); anything else — exponential histograms, summaries, what is
   * skipped and counted — goes through a batch.
   */
  visitMetric(metric: ScannedMetric): boolean {
    const resources = this.#scanResources;
    if (resources.at(-1)?.[0] !== metric.resourceAttributes) {
      const attributes = metric.resourceAttributes;
      resources.push([attributes, resourceLabels(attributes, this.#options.resourceToLabels)]);
    }
    const plan = this.#plan(
      {
        scope: 0,
        name: metric.name,
        description: metric.description,
        unit: metric.unit,
        type: metric.type,
        temporality: metric.temporality,
        monotonic: metric.monotonic,
        metadata: [],
      },
      false,
    );
    if (plan.skip !== undefined || plan.exponential) return false;
    const histogram = plan.family.type === 'histogram';
    if (histogram !== (metric.type === MetricType.Histogram) || plan.family.type === 'summary')
      return false;
    const series = plan.family.keys.scope(this.#scopeKey(metric, resources.at(-1)![1]));
    // No series of this scope yet: its points are new.
    if (series === undefined) return false;
    this.#scanPlan = { family: plan.family, delta: plan.delta, series, previous: undefined };
    return true;
  }

  /** First pass: the point's series must be known (a new one renders its labels: a batch). */
  checkPoint(point: PointRecord): boolean {
    const plan = this.#scanPlan!;
    const { set, setStart, setEnd } = point;
    const entry = plan.family.keys.findAfter(plan.series, plan.previous, set, setStart, setEnd);
    if (entry === undefined) return false;
    plan.previous = entry;
    this.#scanSeries.push(entry.value);
    this.#scanPlans.push(plan);
    return true;
  }

  /** Second pass: the point updates its series, as `update` would. */
  takePoint(point: PointRecord): void {
    const k = this.#scanTaken++;
    if (k === 0) {
      for (const [attributes, identity] of this.#scanResources)
        this.#targetInfo(attributes, identity, this.#scanNow);
    }
    const series = this.#scanSeries[k];
    const { family, delta } = this.#scanPlans[k];
    series.updatedAt = this.#scanNow;
    series.timestampMs = nanosToMillis(point.timeHi, point.timeLo);
    if (family.type === 'histogram') {
      const bounds = family.sharedBounds(point.bounds, point.boundsAt, point.boundsLength);
      const counts = this.#countsOf(point.counts, point.countsAt, point.countsLength);
      const sum = point.bits & PointBits.HasSum ? point.sum : 0;
      setHistogram(series, bounds, counts, point.count, sum, delta);
    } else {
      series.value = delta ? series.value + point.value : point.value;
    }
  }

  /** The key its series start with of a scanned metric's resource and scope (the last one, kept). */
  #scopeKey(metric: ScannedMetric, identity: LabelPair[]): string {
    const last = this.#scopeKeyOf;
    if (
      last !== undefined &&
      last.attributes === metric.resourceAttributes &&
      last.name === metric.scopeName &&
      last.version === metric.scopeVersion
    )
      return last.key;
    const scope = { name: metric.scopeName, version: metric.scopeVersion };
    const key = scopeKeyOf([...identity, ...scopeLabels(scope), ...this.#constLabels]);
    this.#scopeKeyOf = { attributes: metric.resourceAttributes, ...scope, key };
    return key;
  }

  /** Which family `metric` updates, or why its points cannot be exposed. */
  #plan(metric: MetricDescriptor, create = true): MetricPlan {
    const exponential = metric.type === MetricType.ExponentialHistogram;
    // Delta exponential histograms cannot be summed as classic buckets: their bounds
    // follow the data and change from one point to the next.
    if (metric.type === MetricType.Empty || (exponential && isDelta(metric)))
      return { skip: exponential ? 'delta_exponential_histogram' : 'empty_metric' };
    const type = familyType(metric);
    const name = prometheusName(metric, {
      namespace: this.#options.namespace,
      addSuffixes: this.#options.addSuffixes,
    });
    const unit = this.#options.addSuffixes ? unitSuffix(metric.unit) : '';
    const family = create
      ? this.#family(name, type, metric.description, unit)
      : this.#families.get(name);
    // Not created by a scan's check (which changes nothing): a new family has no known series.
    if (!family) return { skip: 'unknown_family' };
    return { family, delta: isDelta(metric), exponential };
  }

  /** Text format 0.0.4 (`openMetrics: false`) or OpenMetrics 1.0 text, whole. */
  render(openMetrics: boolean, now = Date.now()): string {
    return Buffer.concat([...this.renderChunks(openMetrics, now)]).toString('utf8');
  }

  /**
   * The same text as UTF-8 in pieces of about 1 MiB, for an endpoint to send as they come:
   * a scrape of a million lines never exists whole, and the event loop can serve other
   * requests between pieces. Lines are written straight into each piece — as Latin-1 where
   * the text is known to be ASCII (names, numbers, most label sets), which copies bytes
   * instead of encoding them: about 4× faster than building a string and encoding it.
   */
  *renderChunks(openMetrics: boolean, now = Date.now()): Generator<Buffer> {
    this.#expire(now);
    const out = new ChunkWriter();
    const stamp = (s: Series) =>
      this.#options.sendTimestamps ? ` ${openMetrics ? s.timestampMs / 1000 : s.timestampMs}` : '';
    for (const family of this.#families.values()) {
      if (family.series.size === 0) continue;
      const base =
        openMetrics && family.type === 'counter' ? family.name.replace(/_total$/, '') : family.name;
      if (family.help) out.text(`# HELP ${base} ${escapeHelp(family.help)}\n`);
      out.text(`# TYPE ${base} ${family.type}\n`);
      if (openMetrics && family.unit && base.endsWith(`_${family.unit}`))
        out.text(`# UNIT ${base} ${family.unit}\n`);
      for (const s of family.series.values()) {
        const full = out.full();
        if (full) yield full;
        const ascii = s.ascii;
        const time = stamp(s);
        if (family.type === 'histogram') {
          let cumulative = 0;
          const bounds = s.bounds ?? [];
          const counts = s.counts ?? [];
          const le = family.leTexts(bounds);
          const head = `${family.name}_bucket{${s.labels ? `${s.labels},` : ''}le="`;
          for (let k = 0; k < bounds.length; k++) {
            cumulative += counts[k] ?? 0;
            out.write(`${head}${le[k]}"} ${cumulative}${time}\n`, ascii);
          }
          out.write(`${head}+Inf"} ${s.count}${time}\n`, ascii);
          out.write(
            `${family.name}_sum${braces(s.labels)} ${formatNumber(s.sum ?? 0)}${time}\n`,
            ascii,
          );
          out.write(`${family.name}_count${braces(s.labels)} ${s.count}${time}\n`, ascii);
        } else if (family.type === 'summary') {
          for (const q of s.quantiles ?? [])
            out.write(
              `${family.name}${withLabel(s.labels, 'quantile', formatNumber(q.quantile))} ${formatNumber(q.value)}${time}\n`,
              ascii,
            );
          out.write(
            `${family.name}_sum${braces(s.labels)} ${formatNumber(s.sum ?? 0)}${time}\n`,
            ascii,
          );
          out.write(`${family.name}_count${braces(s.labels)} ${s.count}${time}\n`, ascii);
        } else {
          out.write(`${family.name}${braces(s.labels)} ${formatNumber(s.value)}${time}\n`, ascii);
        }
      }
    }
    if (openMetrics) out.text('# EOF\n');
    yield out.rest();
  }

  #family(name: string, type: FamilyType, help: string, unit: string): Family {
    let family = this.#families.get(name);
    if (!family) {
      family = new Family(name, type, help, unit);
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
    family.series.set(labels, {
      labels,
      ascii: ASCII.test(labels),
      value: 1,
      updatedAt: now,
      timestampMs: now,
    });
  }

  #expire(now: number): void {
    for (const family of this.#families.values()) {
      let expired = false;
      for (const [labels, s] of family.series) {
        if (now - s.updatedAt > this.#options.expirationMs) {
          family.series.delete(labels);
          expired = true;
        }
      }
      if (!expired) continue;
      family.keys.prune((s) => family.series.get(s.labels) === s);
    }
  }
}

/** What the keys of a scope's series start with: its label pairs as text. */
function scopeKeyOf(pairs: readonly LabelPair[]): string {
  return pairs.map(([k, v]) => `${k}\u0001${v}`).join('\u0002');
}

/**
 * A histogram point into its series: added to what it holds (a delta point, the same
 * bounds) or in its place.
 */
function setHistogram(
  series: Series,
  bounds: number[],
  counts: ArrayLike<number>,
  count: number,
  sum: number,
  accumulate: boolean,
): void {
  const sameBounds =
    series.bounds === bounds ||
    (series.bounds !== undefined &&
      series.bounds.length === bounds.length &&
      series.bounds.every((b, k) => b === bounds[k]));
  if (accumulate && sameBounds && series.counts) {
    for (let k = 0; k < counts.length; k++) series.counts[k] += counts[k];
    series.sum = (series.sum ?? 0) + sum;
    series.count = (series.count ?? 0) + count;
    return;
  }
  series.bounds = bounds;
  // The series' own array, rewritten in place while its length holds.
  const own = series.counts?.length === counts.length ? series.counts : new Array(counts.length);
  for (let k = 0; k < counts.length; k++) own[k] = counts[k];
  series.counts = own;
  series.sum = sum;
  series.count = count;
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

const NEEDS_ESCAPE = /[\\"\n]/;

function escapeValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
