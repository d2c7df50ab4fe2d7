import { DecodeError } from './errors.js';
import { WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT } from './wire.js';

/**
 * A bounds-checked protobuf reader. Every length is checked against the end of its
 * enclosing message before it is trusted, so a lying length prefix yields a `DecodeError`
 * instead of a huge allocation or a read past the buffer.
 */
export class WireReader {
  buf: Uint8Array;
  view: DataView;
  pos = 0;
  /** Halves of the last 64-bit value read by `varint64` / `fixed64`. */
  lo = 0;
  hi = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /**
   * Reads `buf` from its start. Hot paths keep one reader and reset it per message: see
   * `RequestDecoder` for why an object made per call costs more than its allocation.
   */
  reset(buf: Uint8Array): this {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = 0;
    return this;
  }

  /** Reads a varint and returns its low 32 bits, unsigned. */
  varint32(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= end) throw new DecodeError(pos, 'a varint', 'message ends early');
    let b = buf[pos++];
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let value = b & 0x7f;
    let shift = 7;
    for (let i = 1; i < 10; i++) {
      if (pos >= end) throw new DecodeError(pos, 'a varint', 'message ends early');
      b = buf[pos++];
      if (shift < 32) value |= (b & 0x7f) << shift;
      shift += 7;
      if (b < 0x80) {
        this.pos = pos;
        return value >>> 0;
      }
    }
    throw new DecodeError(this.pos, 'a varint of at most 10 bytes');
  }

  /** Reads a varint into `lo`/`hi`. */
  varint64(end: number): void {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new DecodeError(pos, 'a varint', 'message ends early');
      const b = buf[pos++];
      if (i < 4) lo |= (b & 0x7f) << (i * 7);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (i * 7 - 32);
      if (b < 0x80) {
        this.pos = pos;
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return;
      }
    }
    throw new DecodeError(start, 'a varint of at most 10 bytes');
  }

  fixed64(end: number): void {
    const pos = this.pos;
    if (pos + 8 > end) throw new DecodeError(pos, 'an 8-byte fixed64', 'message ends early');
    this.lo = this.view.getUint32(pos, true);
    this.hi = this.view.getUint32(pos + 4, true);
    this.pos = pos + 8;
  }

  double(end: number): number {
    const pos = this.pos;
    if (pos + 8 > end) throw new DecodeError(pos, 'an 8-byte double', 'message ends early');
    this.pos = pos + 8;
    return this.view.getFloat64(pos, true);
  }

  /** Reads a length prefix and returns the end offset of the delimited bytes. */
  delimited(end: number): number {
    const at = this.pos;
    const length = this.varint32(end);
    const stop = this.pos + length;
    if (stop > end) {
      throw new DecodeError(
        at,
        `${length} bytes of a length-delimited field`,
        `only ${end - this.pos} left`,
      );
    }
    return stop;
  }

  /** Skips a field of an unknown number, as protobuf requires for forward compatibility. */
  skip(wireType: number, end: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint64(end);
        return;
      case WIRE_FIXED64:
        if (this.pos + 8 > end)
          throw new DecodeError(this.pos, 'an 8-byte field', 'message ends early');
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.pos = this.delimited(end);
        return;
      case WIRE_FIXED32:
        if (this.pos + 4 > end)
          throw new DecodeError(this.pos, 'a 4-byte field', 'message ends early');
        this.pos += 4;
        return;
      default:
        throw new DecodeError(this.pos, 'a known wire type (0, 1, 2 or 5)', `got ${wireType}`);
    }
  }

  /** Asserts the wire type of a known field. */
  expect(wireType: number, want: number, field: string): void {
    if (wireType !== want) {
      throw new DecodeError(
        this.pos,
        `${field} with wire type ${want}`,
        `got wire type ${wireType}`,
      );
    }
  }
}
