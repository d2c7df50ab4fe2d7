/**
 * UTF-8 helpers tuned for what metrics carry: short ASCII names and label values.
 * A per-character loop beats `TextEncoder.encodeInto`'s call overhead below a few dozen bytes.
 */
import { isUtf8 } from 'node:buffer';
import { DecodeError } from './errors.js';

const encoder = new TextEncoder();
// Fatal: protobuf `string` fields must be valid UTF-8, and a backend downstream (a Go
// collector, Prometheus) refuses text that is not, so sluice refuses it at the door instead
// of passing on replacement characters or raw bytes it could never deliver.
const decoder = new TextDecoder('utf-8', { fatal: true });
const SHORT = 48;

export function utf8Length(text: string): number {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text, 'utf8');
  }
  return n;
}

/** Writes `text` (whose UTF-8 length is `byteLength`) at `pos`; returns the new position. */
export function writeUtf8(buf: Uint8Array, pos: number, text: string, byteLength: number): number {
  if (byteLength === text.length && byteLength <= SHORT) {
    for (let i = 0; i < byteLength; i++) buf[pos + i] = text.charCodeAt(i);
    return pos + byteLength;
  }
  encoder.encodeInto(text, buf.subarray(pos, pos + byteLength));
  return pos + byteLength;
}

export function readUtf8(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= SHORT) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (buf[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      // String.fromCharCode on a subarray avoids TextDecoder's fixed cost for tiny strings.
      return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
    }
  }
  try {
    return decoder.decode(buf.subarray(start, end));
  } catch {
    throw new DecodeError(start, 'valid UTF-8 text');
  }
}

/**
 * Whether `view`'s bytes `[start, end)` are all ASCII. The words are or-ed together and
 * tested once, the last one read where it ends (overlapping the one before): no branch a
 * word and no byte loop for the tail — label and attribute text is most of what a relay's
 * check reads, in pieces of a few bytes.
 */
export function isAscii(view: DataView, start: number, end: number): boolean {
  if (end - start >= 4) {
    let bits = view.getInt32(end - 4, true);
    for (let i = start; i < end - 4; i += 4) bits |= view.getInt32(i, true);
    return (bits & 0x80808080) === 0;
  }
  let bits = 0;
  for (let i = start; i < end; i++) bits |= view.getUint8(i);
  return bits < 0x80;
}

/** Refuses bytes `start..end` unless they are valid UTF-8 (an ASCII loop first: most are). */
export function checkUtf8(buf: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    if (buf[i] >= 0x80) {
      if (!isUtf8(buf.subarray(i, end))) throw new DecodeError(start, 'valid UTF-8 text');
      return;
    }
  }
}

export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}
