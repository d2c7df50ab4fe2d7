import { AttributeProjection } from '../../model/attribute-projection.js';
import { BatchCopier } from '../../model/batch-copier.js';
import type { Component, ComponentSettings, Consumer } from '../../model/consumer.js';
import { bytesKey } from '../../model/key-value-bytes.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { PointView } from '../../model/point-view.js';
import { MetricType, PointBits, Temporality } from '../../model/types.js';
import { u64Number } from '../../model/wire.js';
import { ScheduledEmitter } from '../scheduled-emitter.js';
import { SeriesKeys } from '../series-key.js';
import {
  addExponential,
  addGauge,
  before,
  bucketMap,
  type ExponentialContribution,
  newOutputSeries,
  type OutputSeries,
  widenTimes,
} from './accumulator.js';
import {
  type AggregateConfig,
  type AggregateRule,
  aggregateConfig,
  globToRegExp,
} from './config.js';
import { InputSeriesTable } from './input-series.js';
import { buildOutputBatch } from './output-batch.js';

/** The previous point of a cumulative exponential histogram input (rare: kept in objects). */
interface ExponentialState extends ExponentialContribution {
  time: bigint;
  scale: number;
}

const TWO_32 = 2 ** 32;

/**
 * Re-aggregates selected metrics across the attributes a rule removes (`drop_attributes`)
 * or does not keep (`group_by`), and emits the merged series every `interval`: sums add,
 * histograms merge bucket by bucket, exponential histograms merge at the coarser scale,
 * gauges keep the last value or the mean. Cumulative inputs contribute their change since
 * their previous point (a drop is a reset), so merged cumulative outputs stay monotonic and
 * start at the earliest start time of their members. Other metrics pass straight through.
 *
 * The per-point path reads the batch columns directly: an input series is found by hash
 * and bytes in `InputSeriesTable`, its output by index, and sums, gauges and histograms
 * merge without allocating.
 */
export class AggregateProcessor implements Consumer, Component {
  readonly id: string;
  readonly #next: Consumer;
  readonly #rules: { rule: AggregateRule; patterns: RegExp[] }[];
  readonly #projections: Map<AggregateRule, AttributeProjection>;
  #outputs: OutputSeries[] = [];
  readonly #outputIndex = new Map<string, number>();
  readonly #maxStaleMs: number;
  readonly #inputs = new InputSeriesTable();
  /** Persistent ids of metric identities (resource, scope, name, type, temporality, unit). */
  readonly #metricIds = new Map<string, number>();
  #exponentialInputs = new Map<number, ExponentialState>();
  /** One bounds array per distinct layout, shared by the outputs that use it. */
  readonly #boundsLayouts = new Map<string, Float64Array>();
  /**
   * The last (batch bounds range, output bounds) found equal in this `consume`: a decoded
   * batch keeps one range for a metric's equal bounds, so most points skip the comparison.
   */
  #checkedStart = -1;
  #checkedBounds: Float64Array | undefined;
  readonly #emitter: ScheduledEmitter;
  readonly #logger: ComponentSettings['logger'];
  readonly #clock: () => number;

  /** `clock` (ms) tells staleness; tests pass their own. */
  constructor(
    settings: ComponentSettings,
    config: AggregateConfig,
    next: Consumer,
    clock: () => number = Date.now,
  ) {
    this.id = settings.id;
    this.#logger = settings.logger;
    this.#clock = clock;
    this.#next = next;
    this.#emitter = new ScheduledEmitter(settings, next, {
      intervalMs: config.interval,
      flush: () => this.flush(),
    });
    this.#maxStaleMs = config.max_stale;
    this.#rules = config.rules.map((rule) => ({ rule, patterns: rule.metrics.map(globToRegExp) }));
    this.#projections = new Map(
      config.rules.map((rule) => [
        rule,
        rule.group_by
          ? new AttributeProjection(rule.group_by, true)
          : new AttributeProjection(rule.drop_attributes!, false),
      ]),
    );
  }

  /** Points dropped, by reason: histograms whose bounds differ, refusals downstream. */
  get dropped(): Record<string, number> {
    return this.#emitter.dropped;
  }

  async start(): Promise<void> {
    this.#emitter.start();
  }

  async shutdown(): Promise<void> {
    await this.#emitter.stop();
  }

  async consume(batch: MetricBatch): Promise<void> {
    const ruleOf = batch.metrics.map((metric) =>
      metric.type === MetricType.Summary || metric.type === MetricType.Empty
        ? undefined
        : this.#rules.find((r) => r.patterns.some((p) => p.test(metric.name)))?.rule,
    );
    if (!ruleOf.some((rule) => rule !== undefined)) return this.#next.consume(batch);
    const keys = new SeriesKeys(batch);
    this.#checkedStart = -1;
    const metricIds = ruleOf.map((rule, m) => (rule ? this.#metricId(batch, keys, m) : -1));
    const seriesInput = new Int32Array(batch.seriesCount).fill(-1);
    // Known inputs first, in a loop of lookups only: each one is a few dependent cache misses
    // into tables of every series seen, and with nothing else in the loop the processor can
    // have several lookups in flight. New inputs are made in the loop below.
    for (let s = 0; s < batch.seriesCount; s++) {
      const m = batch.seriesMetric(s);
      if (ruleOf[m])
        seriesInput[s] = this.#inputs.find(
          metricIds[m],
          batch.attributes,
          batch.seriesAttributes(s),
        );
    }
    const points = batch.points;
    const series = points.series;
    const view = new PointView(batch);
    const now = this.#clock();
    let matched = 0;
    for (let i = 0; i < batch.pointCount; i++) {
      const s = series[i];
      const m = batch.seriesMetric(s);
      const rule = ruleOf[m];
      if (!rule) continue;
      matched++;
      let input = seriesInput[s];
      if (input === -1) {
        input = this.#inputOf(batch, keys, rule, metricIds[m], s, i);
        seriesInput[s] = input;
      }
      this.#inputs.lastSeen[input] = now;
      const out = this.#outputs[this.#inputs.output[input]];
      out.seenAt = now;
      const metric = batch.metrics[m];
      switch (metric.type) {
        case MetricType.Gauge:
          widenTimes(out, points, i);
          addGauge(out, numberValue(batch, i), points, i, rule.gauge);
          break;
        case MetricType.Sum:
          widenTimes(out, points, i);
          out.value += this.#sumChange(input, metric.temporality, batch, i);
          break;
        case MetricType.Histogram:
          if (this.#addHistogram(out, input, metric.temporality, batch, i)) {
            widenTimes(out, points, i);
          } else {
            this.#emitter.count('histogram_bounds_differ', 1);
          }
          break;
        case MetricType.ExponentialHistogram:
          widenTimes(out, points, i);
          view.at(i);
          addExponential(out, view, this.#exponentialChange(input, view));
          break;
      }
    }
    if (matched === batch.pointCount) return;
    const copier = new BatchCopier();
    copier.append(batch, 0, batch.pointCount, {
      keep: (i) => !ruleOf[batch.seriesMetric(batch.points.series[i])],
    });
    await this.#next.consume(copier.target);
  }

  #metricId(batch: MetricBatch, keys: SeriesKeys, m: number): number {
    const metric = batch.metrics[m];
    const key = `${keys.metricPrefix(m)}${metric.temporality}\u0001${metric.unit}`;
    let id = this.#metricIds.get(key);
    if (id === undefined) {
      id = this.#metricIds.size;
      this.#metricIds.set(key, id);
    }
    return id;
  }

  /** The input id of series `s` (first seen at point `i`), with its output, found or made. */
  #inputOf(
    batch: MetricBatch,
    keys: SeriesKeys,
    rule: AggregateRule,
    metricId: number,
    s: number,
    i: number,
  ): number {
    const set = batch.seriesAttributes(s);
    const found = this.#inputs.find(metricId, batch.attributes, set);
    if (found !== -1) return found;
    const bytes = batch.attributes.bytes(set);
    const reduced = this.#projections.get(rule)!.project(bytes);
    const outputKey = `${metricId}\u0001${bytesKey(reduced)}`;
    let output = this.#outputIndex.get(outputKey);
    if (output === undefined) {
      const metric = batch.metrics[batch.seriesMetric(s)];
      const scope = batch.scopes[metric.scope];
      const d = batch.distributions;
      output = this.#outputs.length;
      this.#outputs.push(
        newOutputSeries(
          outputKey,
          metricId,
          { ...batch.resources[scope.resource] },
          keys.resourceKey(scope.resource),
          { ...scope },
          { ...metric },
          reduced === bytes ? bytes.slice() : reduced,
          batch.points,
          i,
          metric.type === MetricType.ExponentialHistogram ? d.scale[batch.points.detail[i]] : 0,
        ),
      );
      this.#outputIndex.set(outputKey, output);
    }
    return this.#inputs.add(metricId, output);
  }

  /**
   * What a sum point adds: itself when delta; when cumulative, the change since the input's
   * previous point (all of it after a reset, nothing for a point not newer than that one).
   */
  #sumChange(input: number, temporality: Temporality, batch: MetricBatch, i: number): number {
    const value = numberValue(batch, i);
    if (temporality !== Temporality.Cumulative) return value;
    const t = this.#inputs;
    const time = batch.points.time.u32;
    const hi = time[2 * i + 1];
    const lo = time[2 * i];
    const hadPrevious = t.hasPrevious[input] === 1;
    if (hadPrevious && !before(t.previousHi[input], t.previousLo[input], hi, lo)) return 0;
    const previous = t.previousValue[input];
    t.hasPrevious[input] = 1;
    t.previousHi[input] = hi;
    t.previousLo[input] = lo;
    t.previousValue[input] = value;
    return !hadPrevious || value < previous ? value : value - previous;
  }

  /** Merges a histogram point bucket-wise; false (nothing merged) when its bounds differ. */
  #addHistogram(
    out: OutputSeries,
    input: number,
    temporality: Temporality,
    batch: MetricBatch,
    i: number,
  ): boolean {
    const points = batch.points;
    const d = batch.distributions;
    const row = points.detail[i];
    const boundsStart = d.boundsStart[row];
    const boundsLength = d.boundsLength[row];
    if (!out.bounds || !out.counts) {
      out.bounds = this.#sharedBounds(d.floats.subarray(boundsStart, boundsStart + boundsLength));
      out.counts = new Float64Array(boundsLength + 1);
    } else if (
      this.#checkedStart !== boundsStart ||
      this.#checkedBounds !== out.bounds ||
      // An empty range starts where the next one does: the length tells them apart.
      out.bounds.length !== boundsLength
    ) {
      if (!sameBounds(out.bounds, d.floats, boundsStart, boundsLength)) return false;
      this.#checkedStart = boundsStart;
      this.#checkedBounds = out.bounds;
    }
    const bits = points.bits[i];
    const count = u64Number(d.total.u32, row);
    const sum = bits & PointBits.HasSum ? points.value.f64[i] : 0;
    const countsAt = d.positiveStart[row];
    const n = Math.min(d.positiveLength[row], out.counts.length);
    const bucketWords = d.bucketCounts.u32;
    const counts = out.counts;
    if (temporality === Temporality.Cumulative) {
      const t = this.#inputs;
      const time = points.time.u32;
      const hi = time[2 * i + 1];
      const lo = time[2 * i];
      const hadPrevious = t.hasPrevious[input] === 1;
      if (hadPrevious && !before(t.previousHi[input], t.previousLo[input], hi, lo)) return true;
      const sameLayout = t.countsLength[input] === n;
      const at = t.reserveCounts(input, n);
      const previous = t.counts;
      let reset = !hadPrevious || !sameLayout || count < t.previousValue[input];
      for (let k = 0; k < n && !reset; k++) {
        if (u64Number(bucketWords, countsAt + k) < previous[at + k]) reset = true;
      }
      for (let k = 0; k < n; k++) {
        const c = u64Number(bucketWords, countsAt + k);
        counts[k] += reset ? c : c - previous[at + k];
        previous[at + k] = c;
      }
      out.count += reset ? count : count - t.previousValue[input];
      out.histogramSum += reset ? sum : sum - t.previousSum[input];
      t.hasPrevious[input] = 1;
      t.previousHi[input] = hi;
      t.previousLo[input] = lo;
      t.previousValue[input] = count;
      t.previousSum[input] = sum;
    } else {
      for (let k = 0; k < n; k++) counts[k] += u64Number(bucketWords, countsAt + k);
      out.count += count;
      out.histogramSum += sum;
    }
    if (bits & PointBits.HasMin) out.min = Math.min(out.min, d.min[row]);
    if (bits & PointBits.HasMax) out.max = Math.max(out.max, d.max[row]);
    return true;
  }

  #sharedBounds(bounds: Float64Array): Float64Array {
    const key = bounds.join(',');
    let shared = this.#boundsLayouts.get(key);
    if (!shared) {
      shared = bounds.slice();
      // Layouts are few in practice; past a bound (odd data), outputs keep their own copy.
      if (this.#boundsLayouts.size < 10_000) this.#boundsLayouts.set(key, shared);
    }
    return shared;
  }

  #exponentialChange(input: number, view: PointView): ExponentialContribution {
    const current: ExponentialState = {
      time: view.time,
      count: Number(view.count),
      sum: view.sum ?? 0,
      scale: view.scale,
      positive: bucketMap(view.positive),
      negative: bucketMap(view.negative),
      zeroCount: Number(view.zeroCount),
    };
    if (view.metric.temporality !== Temporality.Cumulative) return current;
    const previous = this.#exponentialInputs.get(input);
    if (previous && previous.time >= current.time) return { count: 0, sum: 0, zeroCount: 0 };
    this.#exponentialInputs.set(input, current);
    if (!previous || current.count < previous.count || current.scale !== previous.scale) {
      return current;
    }
    return {
      count: current.count - previous.count,
      sum: current.sum - previous.sum,
      positive: diff(current.positive, previous.positive),
      negative: diff(current.negative, previous.negative),
      zeroCount: current.zeroCount - previous.zeroCount,
    };
  }

  /** Emits every output series updated since the last flush, then forgets stale series. */
  flush(now = this.#clock()): void {
    const batch = buildOutputBatch(this.#outputs);
    if (batch.pointCount > 0) this.#emitter.emit([batch]);
    this.#expire(now);
  }

  /** Input and output series currently remembered. */
  get series(): { inputs: number; outputs: number } {
    return { inputs: this.#inputs.count, outputs: this.#outputs.length };
  }

  /**
   * Forgets inputs silent for `max_stale` and outputs none of whose inputs spoke for that
   * long (after they were emitted: nothing accumulated is lost), once a tenth of either is
   * stale. An input that comes back later starts over, as a new series does: its first
   * cumulative point counts whole.
   */
  #expire(now: number): void {
    const cutoff = now - this.#maxStaleMs;
    const inputs = this.#inputs;
    let staleInputs = 0;
    for (let id = 0; id < inputs.count; id++) if (inputs.lastSeen[id] < cutoff) staleInputs++;
    const staleOutputs = this.#outputs.filter((out) => out.seenAt < cutoff).length;
    // Renumbering rebuilds the tables: wait until a tenth of them is stale.
    if (staleInputs * 10 < inputs.count && staleOutputs * 10 < this.#outputs.length) return;
    const renumbered = new Int32Array(this.#outputs.length).fill(-1);
    const kept: OutputSeries[] = [];
    for (let o = 0; o < this.#outputs.length; o++) {
      const out = this.#outputs[o];
      if (out.seenAt < cutoff) {
        this.#outputIndex.delete(out.key);
        continue;
      }
      renumbered[o] = kept.length;
      this.#outputIndex.set(out.key, kept.length);
      kept.push(out);
    }
    this.#outputs = kept;
    const moved = inputs.compact(
      (id) => inputs.lastSeen[id] >= cutoff && renumbered[inputs.output[id]] !== -1,
      (id) => renumbered[inputs.output[id]],
    );
    const exponential = new Map<number, ExponentialState>();
    for (const [id, state] of this.#exponentialInputs) {
      if (moved[id] !== -1) exponential.set(moved[id], state);
    }
    this.#exponentialInputs = exponential;
    this.#logger.debug(
      { inputs: staleInputs, outputs: staleOutputs, maxStaleMs: this.#maxStaleMs },
      'forgot stale series',
    );
  }
}

function diff(
  current: Map<number, number> | undefined,
  previous: Map<number, number> | undefined,
): Map<number, number> | undefined {
  if (!current) return undefined;
  const out = new Map<number, number>();
  for (const [index, n] of current) {
    const d = n - (previous?.get(index) ?? 0);
    if (d > 0) out.set(index, d);
  }
  return out;
}

export const aggregateProcessorFactory = {
  type: 'aggregate',
  configSchema: aggregateConfig,
  create(settings: ComponentSettings, config: AggregateConfig, next: Consumer) {
    return new AggregateProcessor(settings, config, next);
  },
};

/** A number point's value as a double (int64 through its halves, no bigint). */
function numberValue(batch: MetricBatch, i: number): number {
  const points = batch.points;
  if ((points.bits[i] & PointBits.Int) === 0) return points.value.f64[i];
  return (points.value.u32[2 * i + 1] | 0) * TWO_32 + points.value.u32[2 * i];
}

function sameBounds(
  bounds: Float64Array,
  floats: Float64Array,
  start: number,
  length: number,
): boolean {
  if (bounds.length !== length) return false;
  for (let k = 0; k < length; k++) if (bounds[k] !== floats[start + k]) return false;
  return true;
}
