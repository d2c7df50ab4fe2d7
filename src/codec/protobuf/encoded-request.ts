import { requestBytes } from '../../model/byte-pool.js';
import type { EncodedRequest } from '../../model/encoded-request.js';
import { joinSnappyBlocks } from '../prometheus/snappy-block.js';

export type { EncodedRequest };

/**
 * One request holding all of `parts` (of one format and one compression): protobuf messages
 * concatenate into the message with both's repeated fields, so the bytes are simply joined;
 * snappy-compressed ones (remote write as a client sent it) are joined as blocks, still
 * compressed (`joinSnappyBlocks`). The parts' `gzipped` bodies are left out (see
 * `EncodedRequest.gzipped`).
 */
export function concatRequests(parts: readonly EncodedRequest[]): EncodedRequest {
  const compression = parts[0].compression;
  let size = 0;
  let points = 0;
  let keys = 0;
  for (const part of parts) {
    if (part.compression !== compression)
      throw new TypeError('concatRequests: parts of one compression only');
    size += part.bytes.length;
    points += part.points;
    keys += part.seriesKeys?.length ?? 0;
  }
  const seriesKeys = keys > 0 ? new Int32Array(keys) : undefined;
  let k = 0;
  for (const part of parts) {
    if (part.seriesKeys && seriesKeys) {
      seriesKeys.set(part.seriesKeys, k);
      k += part.seriesKeys.length;
    }
  }
  const collection = parts.every((part) => part.collection === parts[0].collection)
    ? parts[0].collection
    : undefined;
  const bytes =
    compression === 'snappy'
      ? joinSnappyBlocks(parts.map((part) => part.bytes))
      : joinBytes(parts, size);
  return { format: parts[0].format, bytes, compression, points, seriesKeys, collection };
}

function joinBytes(parts: readonly EncodedRequest[], size: number): Uint8Array {
  // Every byte is written below. A block the delivery engine gives back once it is sent.
  const bytes = requestBytes.take(size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part.bytes, at);
    at += part.bytes.length;
  }
  return bytes;
}
