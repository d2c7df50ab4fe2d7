import type { Attributes } from '@opentelemetry/api';
import { toAnyValue } from '../../model/any-value.js';
import { anyValueSize, writeAnyValue } from '../../model/key-value-bytes.js';
import { utf8Length, writeUtf8 } from '../../model/utf8.js';
import {
  highBits,
  lowBits,
  varint64Size,
  varintSize,
  writeVarint,
  writeVarint64,
} from '../../model/wire.js';

const SLAB = 64 * 1024;
const TWO_63 = 2 ** 63;
const scratchFloat = new Float64Array(1);
const scratchFloatBytes = new Uint8Array(scratchFloat.buffer);

/**
 * Encodes SDK attribute records straight to OTLP `KeyValue` bytes (entries tagged `0x0a`),
 * with the official serializer's mapping, into shared 64 KiB slabs.
 *
 * Strings, booleans and numbers — nearly every attribute — are written without building
 * `KeyValue` objects or bigints; each result is a place in a slab (`write` returns where it
 * starts, `end` where it ends), because a `Uint8Array` of its own per attribute set costs an
 * off-heap allocation and a finaliser apiece.
 */
export class AttributeEncoder {
  #slab = new Uint8Array(SLAB);
  #slabView = new DataView(this.#slab.buffer);
  #used = 0;
  /** Per entry: key byte length, value byte length, AnyValue size, KeyValue size. */
  #sizes = new Int32Array(64);

  /** The slab the last `write` (or `copy`) wrote into. */
  get slabView(): DataView {
    return this.#slabView;
  }

  /** Encodes `attributes` after the last bytes written; returns where they start in `slabView`. */
  write(attributes: Attributes): number {
    const keys = Object.keys(attributes);
    if (this.#sizes.length < keys.length * 4) this.#sizes = new Int32Array(keys.length * 8);
    const sizes = this.#sizes;
    let total = 0;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k];
      const value = attributes[key];
      const keyLength = utf8Length(key);
      let valueLength = 0;
      let any: number;
      switch (typeof value) {
        case 'string':
          valueLength = utf8Length(value);
          any = 1 + varintSize(valueLength) + valueLength;
          break;
        case 'boolean':
          any = 2;
          break;
        case 'number':
          any = isInt64(value) ? 1 + varint64Size(lowBits(value), highBits(value)) : 9;
          break;
        case 'undefined':
          any = 0;
          break;
        default:
          any = value === null ? 0 : anyValueSize(toAnyValue(value));
      }
      const kv =
        (keyLength === 0 ? 0 : 1 + varintSize(keyLength) + keyLength) + 1 + varintSize(any) + any;
      sizes[4 * k] = keyLength;
      sizes[4 * k + 1] = valueLength;
      sizes[4 * k + 2] = any;
      sizes[4 * k + 3] = kv;
      total += 1 + varintSize(kv) + kv;
    }

    const start = this.#reserve(total);
    const out = this.#slab;
    let pos = start;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k];
      const value = attributes[key];
      const keyLength = sizes[4 * k];
      out[pos++] = 0x0a;
      pos = writeVarint(out, pos, sizes[4 * k + 3]);
      if (keyLength !== 0) {
        out[pos++] = 0x0a;
        pos = writeVarint(out, pos, keyLength);
        pos = writeUtf8(out, pos, key, keyLength);
      }
      out[pos++] = 0x12;
      pos = writeVarint(out, pos, sizes[4 * k + 2]);
      switch (typeof value) {
        case 'string':
          out[pos++] = 0x0a;
          pos = writeVarint(out, pos, sizes[4 * k + 1]);
          pos = writeUtf8(out, pos, value, sizes[4 * k + 1]);
          break;
        case 'boolean':
          out[pos++] = 0x10;
          out[pos++] = value ? 1 : 0;
          break;
        case 'number':
          if (isInt64(value)) {
            out[pos++] = 0x18;
            pos = writeVarint64(out, pos, lowBits(value), highBits(value));
          } else {
            out[pos++] = 0x21;
            scratchFloat[0] = value;
            for (let b = 0; b < 8; b++) out[pos++] = scratchFloatBytes[b];
          }
          break;
        case 'undefined':
          break;
        default:
          if (value !== null) pos = writeAnyValue(out, pos, toAnyValue(value));
      }
    }
    this.#used = pos;
    return start;
  }

  /** Where the last bytes written end in `slabView`. */
  get end(): number {
    return this.#used;
  }

  /** Takes back the last `write`, which started at `start` (its set was known already). */
  unwrite(start: number): void {
    this.#used = start;
  }

  /** Appends `length` bytes of `from` at `offset` (a set moved from another slab). */
  copy(from: DataView, offset: number, length: number): number {
    const start = this.#reserve(length);
    this.#slab.set(new Uint8Array(from.buffer, from.byteOffset + offset, length), start);
    this.#used = start + length;
    return start;
  }

  /** Room for `bytes` more in the current slab, or a new slab: where they go. */
  #reserve(bytes: number): number {
    if (this.#used + bytes > this.#slab.length) {
      this.#slab = new Uint8Array(Math.max(SLAB, bytes));
      this.#slabView = new DataView(this.#slab.buffer);
      this.#used = 0;
    }
    return this.#used;
  }
}

function isInt64(value: number): boolean {
  return Number.isInteger(value) && value >= -TWO_63 && value < TWO_63;
}
