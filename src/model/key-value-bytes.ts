import { type AnyValue, type KeyValue, KeyValueList } from './any-value.js';
import { copyOf } from './copy-bytes.js';
import { DecodeError } from './errors.js';
import { checkUtf8, readUtf8, utf8Length, writeUtf8 } from './utf8.js';
import {
  copyBytes,
  varint64Size,
  varintSize,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
  writeVarint,
  writeVarint64,
} from './wire.js';
import { WireReader } from './wire-reader.js';

/**
 * OTLP `KeyValue` / `AnyValue` protobuf encoding, used by the model to intern attribute
 * sets in wire form and by the codecs for resources, scopes and exemplars.
 *
 * A "key-value run" is a sequence of `KeyValue` messages each preceded by the one-byte
 * tag of the field that holds it (every attribute field in OTLP has a number below 16).
 */

const MAX_DEPTH = 64;
const float = new Float64Array(1);
const floatBytes = new Uint8Array(float.buffer);
const bigWords = new BigInt64Array(1);
const bigHalves = new Uint32Array(bigWords.buffer);

export function keyValuesSize(values: readonly KeyValue[]): number {
  let size = 0;
  for (const kv of values) {
    const body = keyValueSize(kv);
    size += 1 + varintSize(body) + body;
  }
  return size;
}

/** Writes `values` as a key-value run with `tag` before each entry. */
export function writeKeyValues(
  buf: Uint8Array,
  pos: number,
  values: readonly KeyValue[],
  tag: number,
): number {
  for (const kv of values) {
    buf[pos++] = tag;
    pos = writeVarint(buf, pos, keyValueSize(kv));
    pos = writeKeyValue(buf, pos, kv);
  }
  return pos;
}

/**
 * The tag interned attribute entries carry: field 1, length-delimited, as in
 * `Resource.attributes`. Codecs retag entries to the field they write them as.
 */
export const ATTRIBUTE_ENTRY_TAG = 0x0a;

export function encodeKeyValues(
  values: readonly KeyValue[],
  tag = ATTRIBUTE_ENTRY_TAG,
): Uint8Array {
  const out = new Uint8Array(keyValuesSize(values));
  writeKeyValues(out, 0, values, tag);
  return out;
}

function keyValueSize(kv: KeyValue): number {
  const keyLength = utf8Length(kv.key);
  const valueLength = anyValueSize(kv.value);
  return (
    (keyLength === 0 ? 0 : 1 + varintSize(keyLength) + keyLength) +
    1 +
    varintSize(valueLength) +
    valueLength
  );
}

function writeKeyValue(buf: Uint8Array, pos: number, kv: KeyValue): number {
  const keyLength = utf8Length(kv.key);
  if (keyLength !== 0) {
    buf[pos++] = 0x0a;
    pos = writeVarint(buf, pos, keyLength);
    pos = writeUtf8(buf, pos, kv.key, keyLength);
  }
  // The value is always written, even when empty: the official serializers do the same.
  buf[pos++] = 0x12;
  pos = writeVarint(buf, pos, anyValueSize(kv.value));
  return writeAnyValue(buf, pos, kv.value);
}

export function anyValueSize(value: AnyValue): number {
  switch (typeof value) {
    case 'string': {
      const n = utf8Length(value);
      return 1 + varintSize(n) + n;
    }
    case 'boolean':
      return 2;
    case 'number':
      return 9;
    case 'bigint':
      bigWords[0] = value;
      return 1 + varint64Size(bigHalves[0], bigHalves[1]);
    default:
      break;
  }
  if (value === null) return 0;
  if (value instanceof Uint8Array) return 1 + varintSize(value.length) + value.length;
  let inner = 0;
  if (Array.isArray(value)) {
    for (const item of value) {
      const n = anyValueSize(item);
      inner += 1 + varintSize(n) + n;
    }
  } else {
    inner = keyValuesSize((value as KeyValueList).values);
  }
  return 1 + varintSize(inner) + inner;
}

export function writeAnyValue(buf: Uint8Array, pos: number, value: AnyValue): number {
  switch (typeof value) {
    case 'string': {
      const n = utf8Length(value);
      buf[pos++] = 0x0a;
      pos = writeVarint(buf, pos, n);
      return writeUtf8(buf, pos, value, n);
    }
    case 'boolean':
      buf[pos++] = 0x10;
      buf[pos++] = value ? 1 : 0;
      return pos;
    case 'number':
      buf[pos++] = 0x21;
      float[0] = value;
      buf.set(floatBytes, pos);
      return pos + 8;
    case 'bigint':
      buf[pos++] = 0x18;
      bigWords[0] = value;
      return writeVarint64(buf, pos, bigHalves[0], bigHalves[1]);
    default:
      break;
  }
  if (value === null) return pos;
  if (value instanceof Uint8Array) {
    buf[pos++] = 0x3a;
    pos = writeVarint(buf, pos, value.length);
    buf.set(value, pos);
    return pos + value.length;
  }
  if (Array.isArray(value)) {
    let inner = 0;
    for (const item of value) {
      const n = anyValueSize(item);
      inner += 1 + varintSize(n) + n;
    }
    buf[pos++] = 0x2a;
    pos = writeVarint(buf, pos, inner);
    for (const item of value) {
      buf[pos++] = 0x0a;
      pos = writeVarint(buf, pos, anyValueSize(item));
      pos = writeAnyValue(buf, pos, item);
    }
    return pos;
  }
  const values = (value as KeyValueList).values;
  buf[pos++] = 0x32;
  pos = writeVarint(buf, pos, keyValuesSize(values));
  return writeKeyValues(buf, pos, values, 0x0a);
}

/**
 * Sets the tag byte of every entry of the key-value run `buf[start, end)` to `tag` (a run
 * moves between fields: points carry attributes under different field numbers). Each entry
 * is a tag byte, a varint length and the body; only the tag changes.
 */
export function retagKeyValues(buf: Uint8Array, start: number, end: number, tag: number): void {
  let p = start;
  while (p < end) {
    buf[p++] = tag;
    let length = buf[p++];
    if (length >= 0x80) {
      length &= 0x7f;
      let shift = 7;
      let b: number;
      do {
        b = buf[p++];
        length += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b >= 0x80);
    }
    p += length;
  }
}

/**
 * Calls `each(bodyStart, bodyEnd)` for every entry of the key-value run `buf[start, end)`
 * (a tag byte, a varint length, the `KeyValue` body), as `retagKeyValues` walks it; a length
 * that runs past `end` is cut at `end`.
 */
export function eachKeyValueEntry(
  buf: Uint8Array,
  start: number,
  end: number,
  each: (bodyStart: number, bodyEnd: number) => void,
): void {
  let p = start;
  while (p < end) {
    p++; // the tag
    let length = 0;
    let shift = 0;
    let b: number;
    do {
      b = buf[p++];
      length += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b >= 0x80 && p < end);
    const bodyEnd = Math.min(p + length, end);
    each(p, bodyEnd);
    p = bodyEnd;
  }
}

/**
 * Writes one attribute entry in the canonical form of an `AttributeTable` at `dst[at]`: tag
 * `0x0a`, then the length prefix and `KeyValue` at `src[lengthStart, end)` (as they follow
 * the entry's tag on the wire), copied with `copyBytes`. `dst` needs room for
 * `end - lengthStart + 1` bytes; returns where the entry ends there.
 */
export function writeCanonicalEntry(
  dst: Uint8Array,
  dstView: DataView,
  at: number,
  src: Uint8Array,
  srcView: DataView,
  lengthStart: number,
  end: number,
): number {
  dst[at] = 0x0a;
  return copyBytes(dst, dstView, at + 1, src, srcView, lengthStart, end);
}

/** Reads a key-value run whose entries are tagged with any field number. */
export function decodeKeyValues(buf: Uint8Array, start: number, end: number): KeyValue[] {
  const reader = new WireReader(buf);
  reader.pos = start;
  const out: KeyValue[] = [];
  while (reader.pos < end) {
    const tag = reader.varint32(end);
    const stop = reader.delimited(end);
    if ((tag & 7) !== WIRE_LEN) throw new DecodeError(reader.pos, 'a KeyValue message');
    out.push(readKeyValue(reader, stop, 0));
  }
  return out;
}

/** Reads one `KeyValue` message body ending at `end`. */
export function readKeyValue(reader: WireReader, end: number, depth: number): KeyValue {
  if (depth > MAX_DEPTH)
    throw new DecodeError(reader.pos, `AnyValue nested at most ${MAX_DEPTH} deep`);
  let key = '';
  let value: AnyValue = null;
  while (reader.pos < end) {
    const tag = reader.varint32(end);
    const field = tag >>> 3;
    if (field === 1) {
      reader.expect(tag & 7, WIRE_LEN, 'KeyValue.key');
      const stop = reader.delimited(end);
      key = readUtf8(reader.buf, reader.pos, stop);
      reader.pos = stop;
    } else if (field === 2) {
      reader.expect(tag & 7, WIRE_LEN, 'KeyValue.value');
      const stop = reader.delimited(end);
      value = readAnyValue(reader, stop, depth + 1);
    } else reader.skip(tag & 7, end);
  }
  return { key, value };
}

function readAnyValue(reader: WireReader, end: number, depth: number): AnyValue {
  if (depth > MAX_DEPTH)
    throw new DecodeError(reader.pos, `AnyValue nested at most ${MAX_DEPTH} deep`);
  let value: AnyValue = null;
  while (reader.pos < end) {
    const tag = reader.varint32(end);
    const wireType = tag & 7;
    switch (tag >>> 3) {
      case 1: {
        reader.expect(wireType, WIRE_LEN, 'AnyValue.string_value');
        const stop = reader.delimited(end);
        value = readUtf8(reader.buf, reader.pos, stop);
        reader.pos = stop;
        break;
      }
      case 2:
        reader.expect(wireType, WIRE_VARINT, 'AnyValue.bool_value');
        reader.varint64(end);
        value = reader.lo !== 0 || reader.hi !== 0;
        break;
      case 3:
        reader.expect(wireType, WIRE_VARINT, 'AnyValue.int_value');
        reader.varint64(end);
        bigHalves[0] = reader.lo;
        bigHalves[1] = reader.hi;
        value = bigWords[0];
        break;
      case 4:
        reader.expect(wireType, WIRE_FIXED64, 'AnyValue.double_value');
        value = reader.double(end);
        break;
      case 5: {
        reader.expect(wireType, WIRE_LEN, 'AnyValue.array_value');
        const items: AnyValue[] = [];
        eachEntry(reader, reader.delimited(end), (stop) => {
          items.push(readAnyValue(reader, stop, depth + 1));
        });
        value = items;
        break;
      }
      case 6: {
        reader.expect(wireType, WIRE_LEN, 'AnyValue.kvlist_value');
        const entries: KeyValue[] = [];
        eachEntry(reader, reader.delimited(end), (stop) => {
          entries.push(readKeyValue(reader, stop, depth + 1));
        });
        value = new KeyValueList(entries);
        break;
      }
      case 7: {
        reader.expect(wireType, WIRE_LEN, 'AnyValue.bytes_value');
        const stop = reader.delimited(end);
        value = copyOf(reader.buf, reader.pos, stop);
        reader.pos = stop;
        break;
      }
      default:
        reader.skip(wireType, end);
    }
  }
  return value;
}

/**
 * Walks a `KeyValue` body ending at `end` and throws a `DecodeError` if it is malformed,
 * without building any objects: the decoder keeps attribute bytes as they came and
 * materialises values only when somebody asks.
 */
export function validateKeyValue(reader: WireReader, end: number, depth: number): void {
  if (depth > MAX_DEPTH)
    throw new DecodeError(reader.pos, `AnyValue nested at most ${MAX_DEPTH} deep`);
  while (reader.pos < end) {
    const tag = reader.varint32(end);
    const field = tag >>> 3;
    if (field === 2) {
      reader.expect(tag & 7, WIRE_LEN, 'KeyValue.value');
      const stop = reader.delimited(end);
      validateAnyValue(reader, stop, depth + 1);
    } else if (field === 1) {
      reader.expect(tag & 7, WIRE_LEN, 'KeyValue.key');
      const stop = reader.delimited(end);
      checkUtf8(reader.buf, reader.pos, stop);
      reader.pos = stop;
    } else reader.skip(tag & 7, end);
  }
}

function validateAnyValue(reader: WireReader, end: number, depth: number): void {
  if (depth > MAX_DEPTH)
    throw new DecodeError(reader.pos, `AnyValue nested at most ${MAX_DEPTH} deep`);
  while (reader.pos < end) {
    const tag = reader.varint32(end);
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 5 || field === 6) {
      reader.expect(
        wireType,
        WIRE_LEN,
        field === 5 ? 'AnyValue.array_value' : 'AnyValue.kvlist_value',
      );
      eachEntry(reader, reader.delimited(end), (stop) => {
        if (field === 5) validateAnyValue(reader, stop, depth + 1);
        else validateKeyValue(reader, stop, depth + 1);
      });
    } else {
      const want =
        field === 2 || field === 3
          ? WIRE_VARINT
          : field === 4
            ? WIRE_FIXED64
            : field === 1 || field === 7
              ? WIRE_LEN
              : -1;
      if (want !== -1) reader.expect(wireType, want, 'AnyValue field');
      if (field === 1) {
        // string_value
        const stop = reader.delimited(end);
        checkUtf8(reader.buf, reader.pos, stop);
        reader.pos = stop;
      } else reader.skip(wireType, end);
    }
  }
}

/**
 * Calls `visit(stop)` for each field-1 message (`ArrayValue.values`, `KeyValueList.values`)
 * up to `end`, positioned at its body; other fields are skipped.
 */
function eachEntry(reader: WireReader, end: number, visit: (stop: number) => void): void {
  while (reader.pos < end) {
    const tag = reader.varint32(end);
    if (tag !== 0x0a) {
      reader.skip(tag & 7, end);
      continue;
    }
    visit(reader.delimited(end));
  }
}

/**
 * Bytes as a string of the same length, one char per byte: a cheap exact map key for an
 * attribute set in wire form (no copy, no decoding).
 */
export function bytesKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}
