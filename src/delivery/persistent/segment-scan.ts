import { open } from 'node:fs/promises';
import {
  plausibleHeader,
  RECORD_HEADER_BYTES,
  readRecordHeader,
  SEGMENT_MAGIC,
} from './record-format.js';

/** What recovery learned of one segment file by walking its record headers. */
export interface ScannedSegment {
  /** Bytes from the start that hold whole, plausible records. */
  validEnd: number;
  fileSize: number;
  /** Sequence numbers of its first and last record (0 when it has none). */
  firstSeq: number;
  lastSeq: number;
  /** Records after `settled` (the cursor): not delivered yet. */
  records: number;
  points: number;
  bytes: number;
  /** When the first of those was accepted (ms), or undefined when none. */
  oldestAt: number | undefined;
  /** The file does not start with the segment magic: nothing in it can be trusted. */
  foreign: boolean;
}

/**
 * Walks a segment's record headers (32 bytes each, not the payloads: those are checked
 * against their checksum when they are read for sending). The walk stops at the first
 * header that cannot be a record's — cut off by the end of the file, a length beyond it, a
 * sequence number that does not follow — which is where a crash tore the tail.
 */
export async function scanSegment(
  path: string,
  settled: number,
  previousSeq: number,
): Promise<ScannedSegment> {
  const handle = await open(path, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    const out: ScannedSegment = {
      validEnd: SEGMENT_MAGIC.length,
      fileSize,
      firstSeq: 0,
      lastSeq: 0,
      records: 0,
      points: 0,
      bytes: 0,
      oldestAt: undefined,
      foreign: false,
    };
    const magic = Buffer.alloc(SEGMENT_MAGIC.length);
    const { bytesRead } = await handle.read(magic, 0, magic.length, 0);
    if (bytesRead < magic.length || !magic.equals(SEGMENT_MAGIC)) {
      out.validEnd = 0;
      out.foreign = fileSize > 0;
      return out;
    }
    const buffer = Buffer.alloc(RECORD_HEADER_BYTES);
    let at = SEGMENT_MAGIC.length;
    let last = previousSeq;
    while (at + RECORD_HEADER_BYTES <= fileSize) {
      await handle.read(buffer, 0, RECORD_HEADER_BYTES, at);
      const header = readRecordHeader(buffer, 0);
      const end = at + RECORD_HEADER_BYTES + header.payloadLength;
      if (!plausibleHeader(header, last) || end > fileSize) break;
      if (out.firstSeq === 0) out.firstSeq = header.seq;
      out.lastSeq = last = header.seq;
      if (header.seq > settled) {
        out.records++;
        out.points += header.points;
        out.bytes += end - at;
        out.oldestAt ??= header.enqueuedAt;
      }
      at = end;
    }
    out.validEnd = at;
    return out;
  } finally {
    await handle.close();
  }
}
