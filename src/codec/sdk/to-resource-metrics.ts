import type { Attributes, AttributeValue } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type {
  DataPoint,
  ExponentialHistogram,
  Histogram,
  MetricData,
  ResourceMetrics,
  ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  type AnyValue,
  type KeyValue,
  KeyValueList,
  type MetricBatch,
  MetricType,
  PointView,
  Temporality,
} from '../../model/index.js';
import { layoutBatch } from '../batch-layout.js';
import { nanosToHrTime } from './hr-time.js';

export interface ToResourceMetricsResult {
  resourceMetrics: ResourceMetrics[];
  /** Points the SDK data model cannot carry (summaries, empty metrics), by metric name. */
  skippedPoints: number;
}

/**
 * `MetricBatch` → SDK `ResourceMetrics` (one per resource), for handing sluice data to code
 * written against the SDK exporter interface. Summaries have no SDK form and are reported in
 * `skippedPoints`; int64 values beyond 2^53 become the nearest double.
 */
export function toResourceMetrics(batch: MetricBatch): ToResourceMetricsResult {
  const layout = layoutBatch(batch);
  const view = new PointView(batch);
  let skippedPoints = 0;
  const resourceMetrics = batch.resources.map((resource, r): ResourceMetrics => {
    const scopeMetrics = layout.scopesOfResource[r].map((s): ScopeMetrics => {
      const scope = batch.scopes[s];
      const metrics: MetricData[] = [];
      for (const m of layout.metricsOfScope[s]) {
        const metric = batch.metrics[m];
        const indices: number[] = [];
        for (let k = layout.metricStart[m]; k < layout.metricEnd[m]; k++) {
          indices.push(layout.order === undefined ? k : layout.order[k]);
        }
        const data = toMetricData(metric.type, metric, indices, view);
        if (data === undefined) skippedPoints += indices.length;
        else metrics.push(data);
      }
      return {
        scope: {
          name: scope.name,
          version: scope.version || undefined,
          schemaUrl: scope.schemaUrl || undefined,
        },
        metrics,
      };
    });
    return {
      resource: resourceFromAttributes(toAttributes(resource.attributes), {
        schemaUrl: resource.schemaUrl || undefined,
      }),
      scopeMetrics,
    };
  });
  return { resourceMetrics, skippedPoints };
}

function toMetricData(
  type: MetricType,
  metric: MetricBatch['metrics'][number],
  indices: number[],
  view: PointView,
): MetricData | undefined {
  const allInt = indices.length > 0 && indices.every((i) => view.at(i).isInt);
  const descriptor = {
    name: metric.name,
    description: metric.description,
    unit: metric.unit,
    valueType: allInt ? 0 : 1,
  };
  const temporality = metric.temporality === Temporality.Delta ? 0 : 1;
  const common = (i: number) => {
    view.at(i);
    return {
      attributes: toAttributes(view.attributes),
      startTime: nanosToHrTime(view.startTime),
      endTime: nanosToHrTime(view.time),
    };
  };
  switch (type) {
    case MetricType.Gauge:
    case MetricType.Sum: {
      const dataPoints: DataPoint<number>[] = indices.map((i) => ({
        ...common(i),
        value: view.at(i).value,
      }));
      return type === MetricType.Gauge
        ? { descriptor, aggregationTemporality: temporality, dataPointType: 2, dataPoints }
        : {
            descriptor,
            aggregationTemporality: temporality,
            dataPointType: 3,
            isMonotonic: metric.monotonic,
            dataPoints,
          };
    }
    case MetricType.Histogram: {
      const dataPoints: DataPoint<Histogram>[] = indices.map((i) => {
        const point = common(i);
        view.at(i);
        return {
          ...point,
          value: {
            buckets: { boundaries: [...view.bounds], counts: [...view.bucketCounts].map(Number) },
            count: Number(view.count),
            sum: view.sum,
            min: view.min,
            max: view.max,
          },
        };
      });
      return { descriptor, aggregationTemporality: temporality, dataPointType: 0, dataPoints };
    }
    case MetricType.ExponentialHistogram: {
      const dataPoints: DataPoint<ExponentialHistogram>[] = indices.map((i) => {
        const point = common(i);
        view.at(i);
        const buckets = (b: { offset: number; bucketCounts: BigUint64Array } | undefined) => ({
          offset: b?.offset ?? 0,
          bucketCounts: b ? [...b.bucketCounts].map(Number) : [],
        });
        return {
          ...point,
          value: {
            count: Number(view.count),
            sum: view.sum,
            min: view.min,
            max: view.max,
            scale: view.scale,
            zeroCount: Number(view.zeroCount),
            positive: buckets(view.positive),
            negative: buckets(view.negative),
          },
        };
      });
      return { descriptor, aggregationTemporality: temporality, dataPointType: 1, dataPoints };
    }
    default:
      return undefined;
  }
}

function toAttributes(values: readonly KeyValue[]): Attributes {
  const out: Attributes = {};
  for (const kv of values) out[kv.key] = toAttributeValue(kv.value) as AttributeValue;
  return out;
}

function toAttributeValue(value: AnyValue): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(toAttributeValue);
  if (value instanceof KeyValueList) return toAttributes(value.values);
  return value ?? undefined;
}
