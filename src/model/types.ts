import type { KeyValue } from './any-value.js';

/** The data field a `Metric` carries; numbers follow the OTLP `Metric.data` oneof order. */
export const MetricType = {
  /** A metric with no data field set (allowed by OTLP, carried through unchanged). */
  Empty: 0,
  Gauge: 1,
  Sum: 2,
  Histogram: 3,
  ExponentialHistogram: 4,
  Summary: 5,
} as const;
export type MetricType = (typeof MetricType)[keyof typeof MetricType];

/** OTLP `AggregationTemporality` (not the SDK's enum, whose numbers differ). */
export const Temporality = { Unspecified: 0, Delta: 1, Cumulative: 2 } as const;
export type Temporality = (typeof Temporality)[keyof typeof Temporality];

/** OTLP `DataPointFlags`. */
export const DataPointFlags = { None: 0, NoRecordedValue: 1 } as const;

/** Per-point presence bits (`PointColumns.bits`). */
export const PointBits = {
  /** The number value is `as_int` (read `value.i64`), not `as_double`. */
  Int: 1,
  /** A number point carries a value (OTLP allows neither `as_int` nor `as_double`). */
  HasValue: 2,
  HasSum: 4,
  HasMin: 8,
  HasMax: 16,
  HasPositive: 32,
  HasNegative: 64,
} as const;

export interface Resource {
  attributes: KeyValue[];
  droppedAttributesCount: number;
  /** `ResourceMetrics.schema_url`. */
  schemaUrl: string;
}

export interface Scope {
  /** Index into `MetricBatch.resources`. */
  resource: number;
  name: string;
  version: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  /** `ScopeMetrics.schema_url`. */
  schemaUrl: string;
}

export interface MetricDescriptor {
  /** Index into `MetricBatch.scopes`. */
  scope: number;
  name: string;
  description: string;
  unit: string;
  type: MetricType;
  /** For sums and histograms; `Unspecified` otherwise. */
  temporality: Temporality;
  /** For sums. */
  monotonic: boolean;
  metadata: KeyValue[];
}

export interface Exemplar {
  filteredAttributes: KeyValue[];
  /** Nanoseconds since the Unix epoch. */
  time: bigint;
  /** `bigint` is `as_int`, `number` is `as_double`, `undefined` is neither. */
  value: number | bigint | undefined;
  /** 8 bytes, or empty. */
  spanId: Uint8Array;
  /** 16 bytes, or empty. */
  traceId: Uint8Array;
}
