import { SluiceError } from './errors.js';
/**
 * Protobuf wire primitives shared by the model and the codecs.
 *
 * They live in `model` because attribute sets are interned in their OTLP `KeyValue`
 * encoding (see attribute-table.ts): the codecs then copy those bytes instead of encoding
 * attributes again for every point, which is most of the cost of an OTLP request.
 * Everything here works on plain `Uint8Array`s and never allocates.
 */

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

const TWO_32 = 4294967296;

/** Bytes taken by an unsigned varint `< 2^32`. */
export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/** Bytes taken by a 64-bit varint given as two unsigned 32-bit halves. */
export function varint64Size(lo: number, hi: number): number {
  if (hi === 0) return varintSize(lo);
  // 32 bits of lo + bits of hi, 7 bits per byte.
  return Math.ceil((64 - Math.clz32(hi)) / 7);
}

export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  while (value > 0x7f) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[pos++] = value;
  return pos;
}

export function writeVarint64(buf: Uint8Array, pos: number, lo: number, hi: number): number {
  while (hi !== 0 || lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[pos++] = lo;
  return pos;
}

/** A signed 32-bit integer as protobuf's `sint32` varint value. */
export function zigzag32(value: number): number {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

/** Splits a safe integer into two's complement 32-bit halves (for int64 fields). */
export function lowBits(value: number): number {
  return value >>> 0;
}
export function highBits(value: number): number {
  return Math.floor(value / TWO_32) >>> 0;
}

/** Unsigned 64-bit word `k` of `words` (little-endian u32 halves) as a number: exact to 2^53. */
export function u64Number(words: Uint32Array, k: number): number {
  return words[2 * k + 1] * TWO_32 + words[2 * k];
}

/** The unsigned 64-bit little-endian word at byte `at` of `view` as a number: exact to 2^53. */
export function u64NumberAt(view: DataView, at: number): number {
  return view.getUint32(at + 4, true) * TWO_32 + view.getUint32(at, true);
}

/** Writes `value` (a non-negative safe integer) as an unsigned 64-bit little-endian word at `at`. */
export function setU64NumberAt(view: DataView, at: number, value: number): void {
  view.setUint32(at, lowBits(value), true);
  view.setUint32(at + 4, highBits(value), true);
}

/** Unsigned 64-bit nanoseconds, word `k` of `words`, as whole milliseconds: exact, no bigint. */
export function u64NanosToMillis(words: Uint32Array, k: number): number {
  return nanosToMillis(words[2 * k + 1], words[2 * k]);
}

/** Unsigned 64-bit nanoseconds, as its `high` and `low` 32-bit halves, as whole milliseconds. */
export function nanosToMillis(high: number, low: number): number {
  // 2^32 ns = 4294 ms + 967296 ns: every product and sum here stays exact below 2^53.
  return high * 4294 + Math.floor((high * 967296 + low) / 1e6);
}

/**
 * Copies `src[start, end)` to `dst[at]` (`srcView`, `dstView`: DataViews of all of each)
 * sixteen bytes a step, then four, then one; returns where the copy ends in `dst`. For the
 * short runs codecs copy (attribute entries and sets, bucket counts): `subarray()` + `set()`
 * costs a flat ~40 ns and a view of garbage, a step of four bytes half its time in the
 * loop itself (145 B: 24 ns this way, 45 with `set`, 66 four bytes a step; Node 20).
 */
export function copyBytes(
  dst: Uint8Array,
  dstView: DataView,
  at: number,
  src: Uint8Array,
  srcView: DataView,
  start: number,
  end: number,
): number {
  let pos = at;
  let k = start;
  for (; k + 16 <= end; k += 16, pos += 16) {
    dstView.setUint32(pos, srcView.getUint32(k, true), true);
    dstView.setUint32(pos + 4, srcView.getUint32(k + 4, true), true);
    dstView.setUint32(pos + 8, srcView.getUint32(k + 8, true), true);
    dstView.setUint32(pos + 12, srcView.getUint32(k + 12, true), true);
  }
  for (; k + 4 <= end; k += 4, pos += 4) dstView.setUint32(pos, srcView.getUint32(k, true), true);
  for (; k < end; k++) dst[pos++] = src[k];
  return pos;
}

/** Copies one 8-byte value (a fixed64 or double, as raw little-endian bytes). */
export function copy8(src: Uint8Array, from: number, dst: Uint8Array, to: number): void {
  dst[to] = src[from];
  dst[to + 1] = src[from + 1];
  dst[to + 2] = src[from + 2];
  dst[to + 3] = src[from + 3];
  dst[to + 4] = src[from + 4];
  dst[to + 5] = src[from + 5];
  dst[to + 6] = src[from + 6];
  dst[to + 7] = src[from + 7];
}

/** Little-endian platforms only: the columns alias `Float64Array` with `Uint32Array` halves. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
if (!LITTLE_ENDIAN) {
  throw new SluiceError(
    'SLUICE_ERR_PLATFORM',
    'sluice needs a little-endian platform (its columns alias 64-bit words)',
  );
}
