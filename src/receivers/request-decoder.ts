import { decodeMetricsRequestJson } from '../codec/json/decode-request-json.js';
import { decodeWriteRequest } from '../codec/prometheus/remote-write.js';
import { remoteWriteToBatch } from '../codec/prometheus/remote-write-to-batch.js';
import { decodeMetricsRequest } from '../codec/protobuf/decode-request.js';
import type { MetricBatch } from '../model/metric-batch.js';

/** What a receiver hands a decoder: the request body's format (already decompressed). */
export type RequestFormat = 'otlp-protobuf' | 'otlp-json' | 'prometheus-remote-write';

/**
 * Turns request bodies into batches, on this thread or on a pool of worker threads
 * (`DecodePool`). Throws (rejects) `DecodeError` for malformed bodies.
 */
export interface RequestDecoder {
  decode(format: RequestFormat, body: Uint8Array): MetricBatch | Promise<MetricBatch>;
}

/** Decodes one body on the calling thread. */
export function decodeRequest(format: RequestFormat, body: Uint8Array): MetricBatch {
  switch (format) {
    case 'otlp-protobuf':
      return decodeMetricsRequest(body);
    case 'otlp-json':
      return decodeMetricsRequestJson(body);
    case 'prometheus-remote-write':
      return remoteWriteToBatch(decodeWriteRequest(body));
  }
}

export const inlineDecoder: RequestDecoder = { decode: decodeRequest };
