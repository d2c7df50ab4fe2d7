import type { EncodedRequest } from '../../model/encoded-request.js';

export type { EncodedRequest };

/**
 * One request holding all of `parts` (of one format): protobuf messages concatenate into the
 * message with both's repeated fields, so the bytes are simply joined.
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
  // Every byte is written below: no zero-fill first (a request is up to megabytes).
  const bytes = Buffer.allocUnsafeSlow(size);
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
  return { format: parts[0].format, bytes, points, seriesKeys, collection };
}
