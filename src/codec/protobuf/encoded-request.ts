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

/**
 * One request holding all of `parts`: protobuf messages concatenate into the message with
 * both's repeated fields, so the bytes are simply joined.
 */
export function concatRequests(parts: readonly EncodedRequest[]): EncodedRequest {
  let size = 0;
  let points = 0;
  let keys = 0;
  for (const part of parts) {
    size += part.bytes.length;
    points += part.points;
    keys += part.seriesKeys?.length ?? 0;
  }
  const bytes = new Uint8Array(size);
  const seriesKeys = keys > 0 ? new Int32Array(keys) : undefined;
  let at = 0;
  let k = 0;
  for (const part of parts) {
    bytes.set(part.bytes, at);
    at += part.bytes.length;
    if (part.seriesKeys && seriesKeys) {
      seriesKeys.set(part.seriesKeys, k);
      k += part.seriesKeys.length;
    }
  }
  const collection = parts.every((part) => part.collection === parts[0].collection)
    ? parts[0].collection
    : undefined;
  return { bytes, points, seriesKeys, collection };
}
