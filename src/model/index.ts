export type { AnyValue, AttributeInput, AttributesInput, KeyValue } from './any-value.js';
export {
  anyValueToPlain,
  KeyValueList,
  keyValuesToPlain,
  toAnyValue,
  toKeyValues,
} from './any-value.js';
export { AttributeTable } from './attribute-table.js';
export { BatchCopier, splitBatch } from './batch-copier.js';
export type { Component, ComponentSettings, Consumer } from './consumer.js';
export {
  DecodeError,
  InvalidArgumentError,
  InvalidMetricDataError,
  SluiceError,
} from './errors.js';
export type {
  BucketsInput,
  ExponentialHistogramPointInput,
  HistogramPointInput,
  MetricInput,
  NumberPointInput,
  ResourceInput,
  ScopeInput,
  SummaryPointInput,
} from './metric-batch.js';
export {
  MetricBatch,
  type MetricBatchState,
  metricTypeName,
  transferList,
} from './metric-batch.js';
export { DistributionColumns, PointColumns } from './point-columns.js';
export type { BucketsView } from './point-view.js';
export { PointView } from './point-view.js';
export type { Exemplar, MetricDescriptor, Resource, Scope } from './types.js';
export { DataPointFlags, MetricType, PointBits, Temporality } from './types.js';
