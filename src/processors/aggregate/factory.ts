import { AttributeProjection } from '../../model/attribute-projection.js';
import { BatchCopier } from '../../model/batch-copier.js';
import type { Component, ComponentSettings, Consumer } from '../../model/consumer.js';
import { MetricBatch } from '../../model/metric-batch.js';
import { PointView } from '../../model/point-view.js';
import { MetricType, Temporality } from '../../model/types.js';
import { ScheduledEmitter } from '../scheduled-emitter.js';
import { SeriesKeys } from '../series-key.js';
import {
  accumulate,
  bucketMap,
  type Contribution,
  newOutputSeries,
  type OutputSeries,
  resetAfterEmit,
} from './accumulator.js';
import {
  type AggregateConfig,
  type AggregateRule,
  aggregateConfig,
  globToRegExp,
} from './config.js';

interface InputState {
  time: bigint;
  value: number;
  counts?: number[];
  count: number;
  sum: number;
  scale: number;
  positive?: Map<number, number>;
  negative?: Map<number, number>;
  zeroCount: number;
}

/**
 * Re-aggregates selected metrics across the attributes a rule removes (`drop_attributes`)
 * or does not keep (`group_by`), and emits the merged series every `interval`: sums add,
 * histograms merge bucket by bucket, exponential histograms merge at the coarser scale,
 * gauges keep the last value or the mean. Cumulative inputs contribute their change since
 * their previous point (a drop is a reset), so merged cumulative outputs stay monotonic and
 * start at the earliest start time of their members. Other metrics pass straight through.
 */
export class AggregateProcessor implements Consumer, Component {
  readonly id: string;
  readonly #next: Consumer;
  readonly #rules: { rule: AggregateRule; patterns: RegExp[] }[];
  readonly #projections: Map<AggregateRule, AttributeProjection>;
  readonly #outputs = new Map<string, OutputSeries>();
  readonly #inputs = new Map<string, InputState>();
  readonly #emitter: ScheduledEmitter;

  constructor(settings: ComponentSettings, config: AggregateConfig, next: Consumer) {
    this.id = settings.id;
    this.#next = next;
    this.#emitter = new ScheduledEmitter(settings, next, {
      intervalMs: config.interval,
      flush: () => this.flush(),
    });
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
    let matched = 0;
    const keys = new SeriesKeys(batch);
    const view = new PointView(batch);
    const reducedBytes: Uint8Array[] = [];
    const reducedKey: (string | undefined)[] = [];
    const projections = this.#projections;
    for (let i = 0; i < batch.pointCount; i++) {
      view.at(i);
      const rule = ruleOf[view.metricIndex];
      if (!rule) continue;
      matched++;
      const set = view.attributeSet;
      if (reducedKey[set] === undefined) {
        const bytes = projections.get(rule)!.project(batch.attributes.bytes(set));
        reducedBytes[set] = bytes;
        reducedKey[set] = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
          'latin1',
        );
      }
      const metric = view.metric;
      const outputKey = `${keys.metricPrefix(view.metricIndex)}${metric.temporality}\u0001${metric.unit}\u0001${reducedKey[set]}`;
      let out = this.#outputs.get(outputKey);
      if (!out) {
        const scope = batch.scopes[metric.scope];
        out = newOutputSeries(
          { ...batch.resources[scope.resource] },
          keys.resourceKey(scope.resource),
          { ...scope },
          { ...metric },
          reducedBytes[set],
          view,
        );
        this.#outputs.set(outputKey, out);
      }
      const contribution = this.#contribution(keys.of(i), view);
      if (!accumulate(out, view, contribution, rule.gauge)) {
        this.#emitter.count('histogram_bounds_differ', 1);
      }
    }
    if (matched === batch.pointCount) return;
    if (matched === 0) return this.#next.consume(batch);
    const copier = new BatchCopier();
    copier.append(batch, 0, batch.pointCount, {
      keep: (i) => !ruleOf[batch.seriesMetric(batch.points.series[i])],
    });
    await this.#next.consume(copier.target);
  }

  /** Emits every output series updated since the last flush. */
  flush(): void {
    const batch = this.#build();
    if (batch.pointCount === 0) return;
    this.#emitter.emit([batch]);
  }

  #contribution(inputKey: string, view: PointView): Contribution {
    const metric = view.metric;
    const type = metric.type;
    const current: InputState = {
      time: view.time,
      value: type === MetricType.Sum ? view.value : 0,
      counts: type === MetricType.Histogram ? [...view.bucketCounts].map(Number) : undefined,
      count:
        type === MetricType.Histogram || type === MetricType.ExponentialHistogram
          ? Number(view.count)
          : 0,
      sum: view.isDistribution ? (view.sum ?? 0) : 0,
      scale: type === MetricType.ExponentialHistogram ? view.scale : 0,
      positive: type === MetricType.ExponentialHistogram ? bucketMap(view.positive) : undefined,
      negative: type === MetricType.ExponentialHistogram ? bucketMap(view.negative) : undefined,
      zeroCount: type === MetricType.ExponentialHistogram ? Number(view.zeroCount) : 0,
    };
    if (metric.temporality !== Temporality.Cumulative || type === MetricType.Gauge) return current;
    const previous = this.#inputs.get(inputKey);
    this.#inputs.set(inputKey, current);
    if (!previous || previous.time >= current.time)
      return previous && previous.time >= current.time ? zero() : current;
    const reset =
      current.value < previous.value ||
      current.count < previous.count ||
      current.scale !== previous.scale ||
      (current.counts !== undefined &&
        (previous.counts?.length !== current.counts.length ||
          current.counts.some((c, k) => c < previous.counts![k])));
    if (reset) return current;
    return {
      value: current.value - previous.value,
      counts: current.counts?.map((c, k) => c - (previous.counts?.[k] ?? 0)),
      count: current.count - previous.count,
      sum: current.sum - previous.sum,
      positive: diff(current.positive, previous.positive),
      negative: diff(current.negative, previous.negative),
      zeroCount: current.zeroCount - previous.zeroCount,
    };
  }

  #build(): MetricBatch {
    const batch = new MetricBatch();
    const resources = new Map<string, number>();
    const scopes = new Map<string, number>();
    const metrics = new Map<string, number>();
    for (const out of this.#outputs.values()) {
      if (!out.updated) continue;
      const resourceKey = out.resourceKey;
      let r = resources.get(resourceKey);
      if (r === undefined) {
        r = batch.addResource(out.resource);
        resources.set(resourceKey, r);
      }
      const scopeKey = `${r}\u0001${out.scope.name}\u0001${out.scope.version}`;
      let s = scopes.get(scopeKey);
      if (s === undefined) {
        s = batch.addScope(r, out.scope);
        scopes.set(scopeKey, s);
      }
      const m0 = out.metric;
      const metricKey = `${s}\u0001${m0.name}\u0001${m0.type}\u0001${m0.temporality}\u0001${m0.unit}`;
      let m = metrics.get(metricKey);
      if (m === undefined) {
        m = batch.addMetric(s, m0);
        metrics.set(metricKey, m);
      }
      const series = batch.seriesOf(
        m,
        batch.attributes.internBytes(out.attributeBytes, out.attributeHash),
      );
      const times = { startTime: m0.type === MetricType.Gauge ? 0n : out.start, time: out.time };
      const minMax = out.min <= out.max ? { min: out.min, max: out.max } : {};
      switch (m0.type) {
        case MetricType.Gauge:
          batch.addNumberPoint(series, {
            ...times,
            value: out.samples > 0 ? out.sum / out.samples : out.last,
          });
          break;
        case MetricType.Sum:
          batch.addNumberPoint(series, { ...times, value: out.value });
          break;
        case MetricType.Histogram:
          batch.addHistogramPoint(series, {
            ...times,
            count: out.count,
            sum: out.histogramSum,
            ...minMax,
            bounds: out.bounds ?? [],
            bucketCounts: out.counts ?? [],
          });
          break;
        case MetricType.ExponentialHistogram:
          batch.addExponentialHistogramPoint(series, {
            ...times,
            count: out.count,
            sum: out.histogramSum,
            ...minMax,
            scale: out.scale,
            zeroCount: out.zeroCount,
            zeroThreshold: out.zeroThreshold,
            positive: toBuckets(out.positive),
            negative: toBuckets(out.negative),
          });
          break;
      }
      resetAfterEmit(out);
    }
    return batch;
  }
}

function zero(): Contribution {
  return { value: 0, count: 0, sum: 0, zeroCount: 0 };
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

function toBuckets(map: Map<number, number>): { offset: number; bucketCounts: number[] } {
  if (map.size === 0) return { offset: 0, bucketCounts: [] };
  const indexes = [...map.keys()];
  const low = Math.min(...indexes);
  const high = Math.max(...indexes);
  const counts = new Array(high - low + 1).fill(0);
  for (const [index, n] of map) counts[index - low] = n;
  return { offset: low, bucketCounts: counts };
}

export const aggregateProcessorFactory = {
  type: 'aggregate',
  configSchema: aggregateConfig,
  create(settings: ComponentSettings, config: AggregateConfig, next: Consumer) {
    return new AggregateProcessor(settings, config, next);
  },
};
