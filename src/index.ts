export * from './model/index.js';
export { decodeMetricsRequest } from './codec/protobuf/decode-request.js';
export { encodeMetricsRequest } from './codec/protobuf/encode-request.js';
export type { MetricsPartialSuccess } from './codec/protobuf/response.js';
export { decodeMetricsResponse, encodeMetricsResponse } from './codec/protobuf/response.js';
export { decodeMetricsRequestJson } from './codec/json/decode-request-json.js';
export { encodeMetricsRequestJson } from './codec/json/encode-request-json.js';
