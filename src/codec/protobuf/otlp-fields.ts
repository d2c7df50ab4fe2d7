import { MetricType } from '../../model/types.js';
import { varintSize, zigzag32 } from '../../model/wire.js';

/**
 * The OTLP metrics protobuf's field tags, named once for every codec that reads or writes
 * it: the request encoder and decoder, the fast path's scanner and the SDK request encoder.
 * A tag is the byte a field starts with, `field number << 3 | wire type` (every one here is
 * below 128, so one byte), as defined by opentelemetry-proto's `metrics/v1/metrics.proto`
 * and `collector/metrics/v1/metrics_service.proto`. Wire types: 0 varint, 1 fixed64,
 * 2 length-delimited, 5 fixed32.
 *
 * They are `const enum`s so that the build (tsconfig.build.json) writes each as the literal it
 * stands for: the codecs' hot loops compare tags against constants, as hand-written literals
 * would, instead of loading an imported binding per comparison (measured: ~8 % slower on
 * `MetricsRequestEncoder#encode`).
 */

/** ExportMetricsServiceRequest. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum RequestField {
  ResourceMetrics = 0x0a, // 1, LEN
}

/** ResourceMetrics. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum ResourceMetricsField {
  Resource = 0x0a, // 1, LEN
  ScopeMetrics = 0x12, // 2, LEN
  SchemaUrl = 0x1a, // 3, LEN
}

/** Resource. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum ResourceField {
  Attributes = 0x0a, // 1, LEN (KeyValue)
  DroppedAttributesCount = 0x10, // 2, varint
}

/** ScopeMetrics. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum ScopeMetricsField {
  Scope = 0x0a, // 1, LEN
  Metrics = 0x12, // 2, LEN
  SchemaUrl = 0x1a, // 3, LEN
}

/** InstrumentationScope. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum ScopeField {
  Name = 0x0a, // 1, LEN
  Version = 0x12, // 2, LEN
  Attributes = 0x1a, // 3, LEN (KeyValue)
  DroppedAttributesCount = 0x20, // 4, varint
}

/** Metric. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum MetricField {
  Name = 0x0a, // 1, LEN
  Description = 0x12, // 2, LEN
  Unit = 0x1a, // 3, LEN
  Gauge = 0x2a, // 5, LEN
  Sum = 0x3a, // 7, LEN
  Histogram = 0x4a, // 9, LEN
  ExponentialHistogram = 0x52, // 10, LEN
  Summary = 0x5a, // 11, LEN
  Metadata = 0x62, // 12, LEN (KeyValue)
}

/** Gauge, Sum, Histogram, ExponentialHistogram and Summary (`is_monotonic`: Sum only; `aggregation_temporality`: not Gauge, Summary). */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum DataField {
  Points = 0x0a, // 1, LEN
  AggregationTemporality = 0x10, // 2, varint (not Gauge, Summary)
  IsMonotonic = 0x18, // 3, varint
}

/** Fields 2 and 3 of every data point message: start time and time. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum PointField {
  StartTime = 0x11, // 2, fixed64
  Time = 0x19, // 3, fixed64
}

/** Fields 4 and 5 of histogram, exponential histogram and summary points: count and sum. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum DistributionField {
  Count = 0x21, // 4, fixed64
  Sum = 0x29, // 5, fixed64 (double)
}

/** NumberDataPoint. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum NumberPointField {
  AsDouble = 0x21, // 4, fixed64 (double)
  Exemplars = 0x2a, // 5, LEN
  AsInt = 0x31, // 6, fixed64 (sfixed64)
  Attributes = 0x3a, // 7, LEN (KeyValue)
  Flags = 0x40, // 8, varint
}

/** HistogramDataPoint (`bucket_counts` and `explicit_bounds` also unpacked: legal protobuf, which decoders take). */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum HistogramPointField {
  BucketCounts = 0x32, // 6, LEN (packed fixed64)
  ExplicitBounds = 0x3a, // 7, LEN (packed double)
  Exemplars = 0x42, // 8, LEN
  Attributes = 0x4a, // 9, LEN (KeyValue)
  Flags = 0x50, // 10, varint
  Min = 0x59, // 11, fixed64 (double)
  Max = 0x61, // 12, fixed64 (double)
  BucketCountUnpacked = 0x31, // 6, fixed64
  ExplicitBoundUnpacked = 0x39, // 7, fixed64
}

/** ExponentialHistogramDataPoint. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum ExponentialPointField {
  Attributes = 0x0a, // 1, LEN (KeyValue)
  Scale = 0x30, // 6, varint (sint32)
  ZeroCount = 0x39, // 7, fixed64
  Positive = 0x42, // 8, LEN (Buckets)
  Negative = 0x4a, // 9, LEN (Buckets)
  Flags = 0x50, // 10, varint
  Exemplars = 0x5a, // 11, LEN
  Min = 0x61, // 12, fixed64 (double)
  Max = 0x69, // 13, fixed64 (double)
  ZeroThreshold = 0x71, // 14, fixed64 (double)
}

/** ExponentialHistogramDataPoint.Buckets. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum BucketsField {
  Offset = 0x08, // 1, varint (sint32)
  BucketCounts = 0x12, // 2, LEN (packed uint64)
  BucketCountUnpacked = 0x10, // 2, varint
}

/** SummaryDataPoint. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum SummaryPointField {
  QuantileValues = 0x32, // 6, LEN
  Attributes = 0x3a, // 7, LEN (KeyValue)
  Flags = 0x40, // 8, varint
}

/** SummaryDataPoint.ValueAtQuantile. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum QuantileField {
  Quantile = 0x09, // 1, fixed64 (double)
  Value = 0x11, // 2, fixed64 (double)
}

/** Exemplar. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum ExemplarField {
  Time = 0x11, // 2, fixed64
  AsDouble = 0x19, // 3, fixed64 (double)
  SpanId = 0x22, // 4, LEN
  TraceId = 0x2a, // 5, LEN
  AsInt = 0x31, // 6, fixed64 (sfixed64)
  FilteredAttributes = 0x3a, // 7, LEN (KeyValue)
}

/** ExportMetricsServiceResponse. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum ResponseField {
  PartialSuccess = 0x0a, // 1, LEN
}

/** ExportMetricsPartialSuccess. */
// biome-ignore lint/suspicious/noConstEnum: inlined by the build on purpose (see above).
export const enum PartialSuccessField {
  RejectedDataPoints = 0x08, // 1, varint
  ErrorMessage = 0x12, // 2, LEN
}

/** The tag of a metric's data field by `MetricType` (0: none, an empty metric). */
export const METRIC_DATA_TAG = [
  0,
  MetricField.Gauge,
  MetricField.Sum,
  MetricField.Histogram,
  MetricField.ExponentialHistogram,
  MetricField.Summary,
];

/** The tag of a data point's attributes by `MetricType` (they sit at different fields). */
export const POINT_ATTRIBUTES_TAG = [
  0,
  NumberPointField.Attributes,
  NumberPointField.Attributes,
  HistogramPointField.Attributes,
  ExponentialPointField.Attributes,
  SummaryPointField.Attributes,
];

/**
 * Size of a `Buckets` message body: the `offset` field (omitted when 0) and the packed
 * counts, whose varints take `countBytes` bytes (none when there are no counts).
 */
export function bucketsSize(offset: number, countBytes: number, counts: number): number {
  let size = offset === 0 ? 0 : 1 + varintSize(zigzag32(offset));
  if (counts > 0) size += 1 + varintSize(countBytes) + countBytes;
  return size;
}

/** Size of a packed fixed64 / double field holding `count` values (omitted when empty). */
export function packedFixedSize(count: number): number {
  return count === 0 ? 0 : 1 + varintSize(count * 8) + count * 8;
}

/** The kind of data a `Metric` field tag carries; `Empty` for a tag that is not a data field. */
export function metricDataType(tag: number): MetricType {
  switch (tag) {
    case MetricField.Gauge:
      return MetricType.Gauge;
    case MetricField.Sum:
      return MetricType.Sum;
    case MetricField.Histogram:
      return MetricType.Histogram;
    case MetricField.ExponentialHistogram:
      return MetricType.ExponentialHistogram;
    case MetricField.Summary:
      return MetricType.Summary;
    default:
      return MetricType.Empty;
  }
}
