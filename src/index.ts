export type { FlatPoint } from './codec/flat/flat-json-lines.js';
export { encodeFlatJsonLines, flatPoints, formatNanos } from './codec/flat/flat-json-lines.js';
export { decodeMetricsRequestJson } from './codec/json/decode-request-json.js';
export { encodeMetricsRequestJson } from './codec/json/encode-request-json.js';
export { decodeMetricsRequest } from './codec/protobuf/decode-request.js';
export { encodeMetricsRequest, MetricsRequestEncoder } from './codec/protobuf/encode-request.js';
export type { MetricsPartialSuccess } from './codec/protobuf/response.js';
export { decodeMetricsResponse, encodeMetricsResponse } from './codec/protobuf/response.js';
export {
  fromResourceMetrics,
  ResourceMetricsConverter,
} from './codec/sdk/from-resource-metrics.js';
export type { ToResourceMetricsResult } from './codec/sdk/to-resource-metrics.js';
export { toResourceMetrics } from './codec/sdk/to-resource-metrics.js';
export * from './model/index.js';
