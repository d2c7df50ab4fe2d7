export * from './model/index.js';
export { decodeMetricsRequest } from './codec/protobuf/decode-request.js';
export { encodeMetricsRequest } from './codec/protobuf/encode-request.js';
