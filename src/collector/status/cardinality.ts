import { decodeWriteRequest } from '../../codec/prometheus/remote-write.js';
import { remoteWriteToBatch } from '../../codec/prometheus/remote-write-to-batch.js';
import { decodeMetricsRequest } from '../../codec/protobuf/decode-request.js';
import { anyValueToPlain } from '../../model/any-value.js';
import type { EncodedFormat } from '../../model/encoded-request.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import type { PointObserver } from '../../model/point-observer.js';

export interface CardinalityOptions {
  /** Series remembered at most (sampled series, over all metrics): the memory bound. */
  maxSeries?: number;
  /** Metrics tracked at most; series of further metrics are counted under none. */
  maxMetrics?: number;
  /** A series not seen for this long is no longer active. */
  activeWindowMs?: number;
  /** Share of wall time the tracker may spend reading requests (the rest are skipped, counted). */
  cpuBudget?: number;
  /** Trend samples kept per metric, one per `trendIntervalMs`. */
  trendLength?: number;
  trendIntervalMs?: number;
  now?: () => number;
}

/** One remembered (sampled) series: when it was last seen and its attribute values. */
interface SeriesEntry {
  seen: number;
  attributes: [key: string, value: string][];
}

/** One metric's sampled series and, per attribute key, how many of them hold each value. */
interface MetricEntry {
  series: Map<number, SeriesEntry>;
  values: Map<string, Map<string, number>>;
  /** Estimated active series, one sample per trend interval (oldest first). */
  trend: number[];
}

export interface MetricCardinality {
  metric: string;
  /** Estimated active series: the sampled count scaled by the sampling rate. */
  series: number;
  /** Series remembered (sampled) for it. */
  sampled: number;
  trend: number[];
}

export interface AttributeCardinality {
  key: string;
  /** Distinct values among the sampled series. */
  distinct: number;
  /** Sampled series that have the attribute. */
  series: number;
  /** The most common values, with their sampled series counts. */
  top: [value: string, series: number][];
}

export interface CardinalityReport {
  /** One series in `sampling` is remembered (1: every series). */
  sampling: number;
  /** Share of points received in the last minute that the tracker read (1: all). */
  coverage: number;
  activeWindowMs: number;
  /** Estimated active series over all metrics, and its trend. */
  series: number;
  trend: number[];
  metrics: MetricCardinality[];
}

/**
 * Which metrics and attributes hold the collector's series, for the dashboard's cardinality
 * explorer. Bounded in memory and in CPU:
 * - **Sampling by series hash.** A series is remembered when the low `level` bits of its
 *   hash are zero. Past `maxSeries` remembered, the level goes up by one and half of them
 *   are forgotten, so one in 2^level series is kept and counts are scaled back by 2^level.
 *   A series is in or out for good (its hash decides), so repeated points never skew it.
 * - **A CPU budget.** Batches are read, and requests carried as bytes (the relay, the fast
 *   path) decoded and read, only while the time spent stays under `cpuBudget` of the wall
 *   time; the points of what is skipped are counted, and `coverage` says what share was read.
 * - Attribute values are counted per sampled series, so a metric's attribute ranking is
 *   "distinct values among the sampled series": the attribute to drop is the one on top.
 */
export class CardinalityTracker implements PointObserver {
  readonly #maxSeries: number;
  readonly #maxMetrics: number;
  readonly #activeWindowMs: number;
  readonly #cpuBudget: number;
  readonly #trendLength: number;
  readonly #trendIntervalMs: number;
  readonly #now: () => number;
  readonly #metrics = new Map<string, MetricEntry>();
  readonly #trend: number[] = [];
  #remembered = 0;
  #level = 0;
  /** Time spent reading requests in the current second, and that second's start. */
  #spentMs = 0;
  #budgetStart = 0;
  /** Points read and skipped, this minute and the last. */
  #read = [0, 0];
  #skipped = [0, 0];
  #coverageStart = 0;
  #lastSweep = 0;
  #lastTrend = 0;

  constructor(options: CardinalityOptions = {}) {
    this.#maxSeries = options.maxSeries ?? 20_000;
    this.#maxMetrics = options.maxMetrics ?? 2_000;
    this.#activeWindowMs = options.activeWindowMs ?? 5 * 60_000;
    this.#cpuBudget = options.cpuBudget ?? 0.01;
    this.#trendLength = options.trendLength ?? 120;
    this.#trendIntervalMs = options.trendIntervalMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#budgetStart = this.#coverageStart = this.#lastSweep = this.#lastTrend = this.#now();
  }

  observeBatch(batch: MetricBatch): void {
    this.#observe(batch.pointCount, () => batch);
  }

  observeRequest(format: EncodedFormat, body: Uint8Array, points: number): void {
    this.#observe(points, () =>
      format === 'otlp' ? decodeMetricsRequest(body) : remoteWriteToBatch(decodeWriteRequest(body)),
    );
  }

  /** Reads `points` through `read` while this second's budget lasts; else counts them skipped. */
  #observe(points: number, read: () => MetricBatch): void {
    const started = performance.now();
    const now = this.#now();
    if (this.#overBudget(now)) {
      this.#count(now, points, false);
      return;
    }
    try {
      this.#record(read(), now);
    } catch {
      // A request was checked before it came here; a decoder that disagrees costs a sample.
    }
    this.#spentMs += performance.now() - started;
  }

  /** Whether this second's budget is spent (a new second starts a new budget). */
  #overBudget(now: number): boolean {
    if (now - this.#budgetStart >= 1000) {
      this.#budgetStart = now;
      this.#spentMs = 0;
    }
    return this.#spentMs > this.#cpuBudget * 1000;
  }

  /** Remembers the batch's sampled series and their attribute values. */
  #record(batch: MetricBatch, now: number): void {
    this.#count(now, batch.pointCount, true);
    const mask = 2 ** this.#level - 1;
    for (let s = 0; s < batch.seriesCount; s++) {
      const hash = batch.seriesHash(s) >>> 0;
      if ((hash & mask) !== 0) continue;
      const name = batch.metrics[batch.seriesMetric(s)].name;
      const metric = this.#metric(name);
      if (!metric) continue;
      const known = metric.series.get(hash);
      if (known) {
        known.seen = now;
        continue;
      }
      const attributes = batch.attributes
        .values(batch.seriesAttributes(s))
        .map(({ key, value }): [string, string] => {
          const plain = anyValueToPlain(value);
          return [key, typeof plain === 'string' ? plain : JSON.stringify(plain)];
        });
      metric.series.set(hash, { seen: now, attributes });
      for (const [key, value] of attributes) {
        let values = metric.values.get(key);
        if (!values) {
          values = new Map();
          metric.values.set(key, values);
        }
        values.set(value, (values.get(value) ?? 0) + 1);
      }
      if (++this.#remembered > this.#maxSeries) this.#raiseLevel();
    }
  }

  /** The report the dashboard shows: metrics by estimated active series, most first. */
  report(limit = 20): CardinalityReport {
    this.#maintain();
    const scale = 2 ** this.#level;
    const metrics = [...this.#metrics]
      .map(([metric, entry]) => ({
        metric,
        series: entry.series.size * scale,
        sampled: entry.series.size,
        trend: [...entry.trend],
      }))
      .filter((m) => m.sampled > 0)
      .sort((a, b) => b.series - a.series || (a.metric < b.metric ? -1 : 1))
      .slice(0, limit);
    const [read, skipped] = [this.#read[0] + this.#read[1], this.#skipped[0] + this.#skipped[1]];
    return {
      sampling: scale,
      coverage: read + skipped === 0 ? 1 : read / (read + skipped),
      activeWindowMs: this.#activeWindowMs,
      series: this.#remembered * scale,
      trend: [...this.#trend],
      metrics,
    };
  }

  /** One metric's attributes ranked by distinct values (the one to drop on top), or undefined. */
  attributes(metric: string, topValues = 5): AttributeCardinality[] | undefined {
    this.#maintain();
    const entry = this.#metrics.get(metric);
    if (!entry) return undefined;
    return [...entry.values]
      .map(([key, values]) => ({
        key,
        distinct: values.size,
        series: [...values.values()].reduce((sum, n) => sum + n, 0),
        top: [...values].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, topValues),
      }))
      .sort((a, b) => b.distinct - a.distinct || (a.key < b.key ? -1 : 1));
  }

  /** Expires series past the active window and takes a trend sample when one is due. */
  #maintain(): void {
    const now = this.#now();
    if (now - this.#lastSweep >= Math.min(10_000, this.#activeWindowMs / 2)) {
      this.#lastSweep = now;
      for (const [name, metric] of this.#metrics) {
        for (const [hash, series] of metric.series) {
          if (now - series.seen > this.#activeWindowMs) this.#forget(metric, hash, series);
        }
        if (metric.series.size === 0 && metric.trend.every((n) => n === 0))
          this.#metrics.delete(name);
      }
    }
    if (now - this.#lastTrend >= this.#trendIntervalMs) {
      this.#lastTrend = now;
      const scale = 2 ** this.#level;
      for (const metric of this.#metrics.values())
        pushBounded(metric.trend, metric.series.size * scale, this.#trendLength);
      pushBounded(this.#trend, this.#remembered * scale, this.#trendLength);
    }
  }

  #metric(name: string): MetricEntry | undefined {
    let metric = this.#metrics.get(name);
    if (!metric && this.#metrics.size < this.#maxMetrics) {
      metric = { series: new Map(), values: new Map(), trend: [] };
      this.#metrics.set(name, metric);
    }
    return metric;
  }

  /** Keeps one series in twice as many: those whose next hash bit is zero too. */
  #raiseLevel(): void {
    this.#level++;
    const mask = 2 ** this.#level - 1;
    for (const metric of this.#metrics.values()) {
      for (const [hash, series] of metric.series) {
        if ((hash & mask) !== 0) this.#forget(metric, hash, series);
      }
    }
  }

  #forget(metric: MetricEntry, hash: number, series: SeriesEntry): void {
    metric.series.delete(hash);
    this.#remembered--;
    for (const [key, value] of series.attributes) {
      const values = metric.values.get(key)!;
      const left = values.get(value)! - 1;
      if (left > 0) values.set(value, left);
      else values.delete(value);
      if (values.size === 0) metric.values.delete(key);
    }
  }

  /** Counts points read or skipped, in the current minute (the last one kept beside it). */
  #count(now: number, points: number, read: boolean): void {
    if (now - this.#coverageStart >= 60_000) {
      this.#coverageStart = now;
      this.#read = [this.#read[1], 0];
      this.#skipped = [this.#skipped[1], 0];
    }
    if (read) this.#read[1] += points;
    else this.#skipped[1] += points;
  }
}

function pushBounded(list: number[], value: number, length: number): void {
  list.push(value);
  if (list.length > length) list.shift();
}
