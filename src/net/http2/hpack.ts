import { ErrorCode, Http2Error } from './frames.js';
import { huffmanDecode } from './huffman.js';

/** HPACK (RFC 7541): the header compression of HTTP/2, decoded in full, encoded simply. */

/** The static table (RFC 7541 Appendix A), from index 1. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** Every entry's size counts its name and value in bytes and 32 more (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;
/** The largest integer read: far past any size or index a header block can hold. */
const MAX_INTEGER = 2 ** 24;

/** The fields of a header block, in order: name, value, name, value... */
export type FieldList = string[];

/**
 * A connection's HPACK decoder: its dynamic table lives as long as the connection, and every
 * header block must be decoded, in order, for it to stay in step with the peer's encoder.
 */
export class HpackDecoder {
  /** The dynamic table, oldest first (so index 62 is the last entry). */
  readonly #table: [string, string][] = [];
  #size = 0;
  #maxSize: number;
  /** SETTINGS_HEADER_TABLE_SIZE as this side sent it: the most a size update may ask. */
  readonly #limit: number;

  constructor(limit = 4096) {
    this.#limit = limit;
    this.#maxSize = limit;
  }

  /**
   * Decodes the block `bytes[start, end)` into `fields`. Once the fields pass `maxListSize`
   * (RFC 9113's header list size), they are no longer collected but the block is still
   * decoded; the result says whether they fit. Throws a COMPRESSION_ERROR for a block that
   * is not valid HPACK.
   */
  decode(
    bytes: Uint8Array,
    start: number,
    end: number,
    fields: FieldList,
    maxListSize: number,
  ): boolean {
    const reader = { bytes, at: start, end };
    let listSize = 0;
    let fieldSeen = false;
    while (reader.at < end) {
      const first = bytes[reader.at];
      let name: string;
      let value: string;
      if (first & 0x80) {
        [name, value] = this.#entry(readInteger(reader, 7));
      } else if ((first & 0xe0) === 0x20) {
        if (fieldSeen) throw compressionError('a table size update after a field');
        const size = readInteger(reader, 5);
        if (size > this.#limit)
          throw compressionError(`a table size update to ${size} (the limit is ${this.#limit})`);
        this.#maxSize = size;
        this.#evict(0);
        continue;
      } else {
        // Literal: with incremental indexing (01), without (0000), never indexed (0001).
        const indexing = (first & 0xc0) === 0x40;
        const index = readInteger(reader, indexing ? 6 : 4);
        name = index === 0 ? readString(reader) : this.#entry(index)[0];
        value = readString(reader);
        if (indexing) this.#insert(name, value);
      }
      fieldSeen = true;
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize <= maxListSize) fields.push(name, value);
    }
    return listSize <= maxListSize;
  }

  #entry(index: number): readonly [string, string] {
    if (index === 0) throw compressionError('index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1];
    const entry = this.#table[this.#table.length - 1 - (index - STATIC_TABLE.length - 1)];
    if (!entry) throw compressionError(`index ${index} past the table's end`);
    return entry;
  }

  #insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
    this.#evict(size);
    if (size <= this.#maxSize) {
      this.#table.push([name, value]);
      this.#size += size;
    }
  }

  /** Evicts the oldest entries until `room` more bytes fit. */
  #evict(room: number): void {
    while (this.#table.length > 0 && this.#size + room > this.#maxSize) {
      const [name, value] = this.#table.shift() as [string, string];
      this.#size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

interface Reader {
  bytes: Uint8Array;
  at: number;
  end: number;
}

/** An integer with an N-bit prefix (RFC 7541 §5.1). */
function readInteger(reader: Reader, prefixBits: number): number {
  const mask = (1 << prefixBits) - 1;
  let value = reader.bytes[reader.at++] & mask;
  if (value < mask) return value;
  let shift = 0;
  for (;;) {
    if (reader.at >= reader.end) throw compressionError('an integer cut short');
    const byte = reader.bytes[reader.at++];
    value += (byte & 0x7f) * 2 ** shift;
    if (value > MAX_INTEGER) throw compressionError('an integer too large');
    if ((byte & 0x80) === 0) return value;
    shift += 7;
  }
}

/** A string literal: a Huffman flag and a 7-bit-prefix length, then its bytes. */
function readString(reader: Reader): string {
  if (reader.at >= reader.end) throw compressionError('a field cut short');
  const huffman = (reader.bytes[reader.at] & 0x80) !== 0;
  const length = readInteger(reader, 7);
  const start = reader.at;
  const end = start + length;
  if (end > reader.end) throw compressionError('a string longer than its block');
  reader.at = end;
  return huffman
    ? huffmanDecode(reader.bytes, start, end)
    : Buffer.from(reader.bytes.buffer, reader.bytes.byteOffset, reader.bytes.length).toString(
        'latin1',
        start,
        end,
      );
}

function compressionError(what: string): Http2Error {
  return new Http2Error(ErrorCode.COMPRESSION_ERROR, `the header block holds ${what}`);
}

/**
 * Encodes `fields` (name, value pairs) without touching the peer's dynamic table: a static
 * entry by its index when the table has it whole, else a literal "without indexing" (with
 * the static name's index when it has the name). Strings go as they are, not Huffman-coded:
 * this side's headers are few and short, and sent mostly pre-encoded.
 */
export function encodeFields(fields: readonly (readonly [string, string])[]): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    const whole = STATIC_TABLE.findIndex(([n, v]) => n === name && v === value);
    if (whole >= 0) {
      writeInteger(out, whole + 1, 7, 0x80);
      continue;
    }
    const named = STATIC_TABLE.findIndex(([n]) => n === name);
    if (named >= 0) writeInteger(out, named + 1, 4, 0x00);
    else {
      out.push(0x00);
      writeString(out, name);
    }
    writeString(out, value);
  }
  return Buffer.from(out);
}

function writeInteger(out: number[], value: number, prefixBits: number, pattern: number): void {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out.push(pattern | value);
    return;
  }
  out.push(pattern | mask);
  let rest = value - mask;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function writeString(out: number[], text: string): void {
  const bytes = Buffer.from(text, 'latin1');
  writeInteger(out, bytes.length, 7, 0x00);
  for (const byte of bytes) out.push(byte);
}
