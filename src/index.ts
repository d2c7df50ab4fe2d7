export type { FlatPoint } from './codec/flat/flat-json-lines.js';
export { encodeFlatJsonLines, flatPoints, formatNanos } from './codec/flat/flat-json-lines.js';
export { decodeMetricsRequestJson } from './codec/json/decode-request-json.js';
export { encodeMetricsRequestJson } from './codec/json/encode-request-json.js';
export { decodeMetricsRequest } from './codec/protobuf/decode-request.js';
export {
  encodeMetricsRequest,
  MetricsRequestEncoder,
  measureMetricsRequest,
} from './codec/protobuf/encode-request.js';
export type { EncodedRequest } from './codec/protobuf/encoded-request.js';
export { concatRequests } from './codec/protobuf/encoded-request.js';
export type { MetricsPartialSuccess } from './codec/protobuf/response.js';
export { decodeMetricsResponse, encodeMetricsResponse } from './codec/protobuf/response.js';
export {
  fromResourceMetrics,
  ResourceMetricsConverter,
} from './codec/sdk/from-resource-metrics.js';
export type { EncodeOptions } from './codec/sdk/sdk-request-encoder.js';
export { SdkRequestEncoder } from './codec/sdk/sdk-request-encoder.js';
export type { ToResourceMetricsResult } from './codec/sdk/to-resource-metrics.js';
export { toResourceMetrics } from './codec/sdk/to-resource-metrics.js';
export type { RetryOptions } from './delivery/backoff.js';
export { Backoff, DEFAULT_RETRY, parseRetryAfter } from './delivery/backoff.js';
export type { BreakerState, CircuitBreakerOptions } from './delivery/circuit-breaker.js';
export { CircuitBreaker } from './delivery/circuit-breaker.js';
export type { DeadLetterRecord } from './delivery/dead-letters.js';
export { listDeadLetters } from './delivery/dead-letters.js';
export type { BatchOptions, DeliveryOptions, ShutdownOptions } from './delivery/delivery-engine.js';
export { DEFAULT_BATCH, DeliveryEngine } from './delivery/delivery-engine.js';
export { DeliveryStats } from './delivery/delivery-stats.js';
export {
  PermanentError,
  QueueFullError,
  RetryableError,
  ShutdownError,
  ThrottleError,
} from './delivery/errors.js';
export type { Queue, QueueOptions, WhenFull } from './delivery/memory-queue.js';
export { MemoryQueue } from './delivery/memory-queue.js';
export type {
  PersistentQueueOptions,
  StorageStats,
} from './delivery/persistent/persistent-queue.js';
export { PersistentQueue } from './delivery/persistent/persistent-queue.js';
export { StorageError } from './delivery/persistent/storage-error.js';
export type { Sender, SendResult } from './delivery/sender.js';
export { ConsoleSender } from './exporters/debug/console-sender.js';
export type { FileSenderOptions } from './exporters/file/file-sender.js';
export { FileSender } from './exporters/file/file-sender.js';
export type { OtlpGrpcSenderOptions } from './exporters/otlp/otlp-grpc-sender.js';
export { OtlpGrpcSender } from './exporters/otlp/otlp-grpc-sender.js';
export type { OtlpHttpSenderOptions } from './exporters/otlphttp/otlp-http-sender.js';
export { OtlpHttpSender } from './exporters/otlphttp/otlp-http-sender.js';
export * from './model/index.js';
export type { FsyncPolicy, StorageSettings, StorageWhenFull } from './model/storage.js';
export type {
  SluiceMetricExporterOptions,
  SluiceTlsOptions,
  TemporalityPreference,
} from './sdk/sluice-metric-exporter.js';
export { SluiceMetricExporter } from './sdk/sluice-metric-exporter.js';
