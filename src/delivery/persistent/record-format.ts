import { crc32 } from 'node:zlib';

/**
 * The on-disk format of the persistent queue: segment files, each starting with
 * `SEGMENT_MAGIC`, then records one after another:
 *
 * ```
 * 0   u32  payload length (bytes after the header)
 * 4   u32  CRC-32 of bytes 0-3 and 8-31 of the header and of the payload
 * 8   f64  sequence number (one per record, increasing across segments and restarts)
 * 16  f64  time the record was accepted (ms since the epoch)
 * 24  u32  points in the request
 * 28  u32  series keys before the request (for per-series ordering), k
 * 32       k × i32 series keys, then the OTLP ExportMetricsServiceRequest bytes
 * ```
 *
 * Little-endian. The checksum covers everything but itself, so a torn write (a record cut
 * off by a crash or a power loss) and a flipped bit are both detected, never replayed.
 */
export const SEGMENT_MAGIC = Buffer.from('SLUICEQ1', 'latin1');
export const RECORD_HEADER_BYTES = 32;
/** No request comes near this; a header that claims more is corrupt. */
export const MAX_RECORD_PAYLOAD = 1 << 30;

export interface RecordHeader {
  payloadLength: number;
  checksum: number;
  seq: number;
  enqueuedAt: number;
  points: number;
  keyCount: number;
}

export function writeRecordHeader(
  target: Buffer,
  at: number,
  header: Omit<RecordHeader, 'checksum'>,
  keys: Int32Array | undefined,
  request: Uint8Array,
): void {
  target.writeUInt32LE(header.payloadLength, at);
  target.writeDoubleLE(header.seq, at + 8);
  target.writeDoubleLE(header.enqueuedAt, at + 16);
  target.writeUInt32LE(header.points, at + 24);
  target.writeUInt32LE(header.keyCount, at + 28);
  const keyBytes = keys ? new Uint8Array(keys.buffer, keys.byteOffset, keys.byteLength) : undefined;
  target.writeUInt32LE(
    checksum(target.subarray(at, at + RECORD_HEADER_BYTES), keyBytes, request),
    at + 4,
  );
}

export function readRecordHeader(source: Uint8Array, at: number): RecordHeader {
  const view = Buffer.from(source.buffer, source.byteOffset + at, RECORD_HEADER_BYTES);
  return {
    payloadLength: view.readUInt32LE(0),
    checksum: view.readUInt32LE(4),
    seq: view.readDoubleLE(8),
    enqueuedAt: view.readDoubleLE(16),
    points: view.readUInt32LE(24),
    keyCount: view.readUInt32LE(28),
  };
}

/** Whether a header read from disk can be a record's at all (before its checksum is known). */
export function plausibleHeader(header: RecordHeader, previousSeq: number): boolean {
  return (
    header.payloadLength <= MAX_RECORD_PAYLOAD &&
    header.keyCount * 4 <= header.payloadLength &&
    Number.isSafeInteger(header.seq) &&
    header.seq > previousSeq &&
    Number.isFinite(header.enqueuedAt)
  );
}

/** The checksum a record with this header (as bytes) and payload must carry. */
export function checksum(
  header: Uint8Array,
  keys: Uint8Array | undefined,
  request: Uint8Array,
): number {
  let crc = crc32(header.subarray(0, 4));
  crc = crc32(header.subarray(8, RECORD_HEADER_BYTES), crc);
  if (keys) crc = crc32(keys, crc);
  return crc32(request, crc);
}
