import type { MetricData, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { MetricType, type Temporality } from '../../model/index.js';

// The SDK's enums, by value: importing them would tie us to one copy of sdk-metrics, while
// an application may bring its own (the numbers have been stable since 1.0).
export const SDK_HISTOGRAM = 0;
export const SDK_EXPONENTIAL_HISTOGRAM = 1;
export const SDK_GAUGE = 2;
export const SDK_SUM = 3;
const SDK_DELTA = 0;
const SDK_CUMULATIVE = 1;
export const VALUE_TYPE_INT = 0;

/** Points handled between two looks at the clock when converting or encoding in slices. */
export const STEP_POINTS = 1024;

/** Identifies an instrument across exports, for the positional attribute memo. */
export function instrumentKey(scopeMetrics: ScopeMetrics, metric: MetricData): string {
  const { scope } = scopeMetrics;
  return `${scope.name}\0${scope.version ?? ''}\0${metric.descriptor.name}\0${metric.dataPointType}`;
}

export function metricType(dataPointType: number): MetricType {
  switch (dataPointType) {
    case SDK_HISTOGRAM:
      return MetricType.Histogram;
    case SDK_EXPONENTIAL_HISTOGRAM:
      return MetricType.ExponentialHistogram;
    case SDK_GAUGE:
      return MetricType.Gauge;
    default:
      return MetricType.Sum;
  }
}

/** The OTLP temporality of an SDK metric (unspecified for gauges, which have none). */
export function otlpTemporality(metric: MetricData): Temporality {
  if (metric.dataPointType === SDK_GAUGE) return 0;
  const temporality = metric.aggregationTemporality;
  return temporality === SDK_DELTA ? 1 : temporality === SDK_CUMULATIVE ? 2 : 0;
}

/** A pace for callers without a shared budget: yields after every `budgetMs` of work. */
export function yieldEvery(budgetMs: number): () => Promise<void> | undefined {
  let sliceStart = performance.now();
  return () => {
    if (performance.now() - sliceStart < budgetMs) return undefined;
    return new Promise((resolve) =>
      setImmediate(() => {
        sliceStart = performance.now();
        resolve();
      }),
    );
  };
}
