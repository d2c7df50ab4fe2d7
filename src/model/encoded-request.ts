/**
 * An OTLP `ExportMetricsServiceRequest` already in protobuf, with what the delivery engine
 * needs to know about it without decoding: a producer that writes requests itself (the SDK
 * exporter) hands these over instead of `MetricBatch`es, and a retry resends the bytes.
 */
export interface EncodedRequest {
  bytes: Uint8Array;
  points: number;
  /**
   * 32-bit keys of the request's series whose order matters (all but delta points), for
   * per-series ordering between concurrent sends; `undefined` when none does.
   */
  seriesKeys: Int32Array | undefined;
  /**
   * Requests with the same number hold different series (an SDK collection has one point per
   * series), so they need no ordering among themselves; `undefined` when that is not known.
   */
  collection?: number;
}
