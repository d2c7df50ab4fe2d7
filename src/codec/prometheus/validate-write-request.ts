import type { AttributeLimits } from '../../model/attribute-limits.js';
import type { EncodedRequest } from '../../model/encoded-request.js';
import { checkUtf8 } from '../../model/utf8.js';
import { idleReader, NOT_TAKEN, SeriesKeyList, walkBody } from '../relay-check.js';
import type { CheckedWriteRequest, RemoteWriteWasm } from './remote-write-wasm.js';

/**
 * Checks a Prometheus remote write 1.0 `WriteRequest` (uncompressed) without decoding it,
 * so a relay (`prometheusremotewrite` receiver → `prometheusremotewrite` exporter, no
 * processor that needs the points) carries the bytes as they came instead of translating
 * every sample to OTel and back — what vmagent does. It refuses what the decoder refuses:
 * malformed protobuf, text that is not UTF-8, a metadata type over 7; and it takes only
 * what it knows (labels, samples, metadata) and what stays under the receiver's attribute
 * limits: anything else — exemplars, native histograms, an unknown field, a series with
 * more labels than `max_attributes_per_point` or a label value over
 * `max_attribute_value_bytes` — and the body is decoded as usual, which applies the
 * translation's own rules and says what was wrong.
 *
 * A sample is a point here. Each series' key for per-series ordering is the hash of its
 * label bytes: every series of remote write is one whose order matters.
 */
export class RemoteWriteValidator {
  readonly format = 'prometheus-remote-write';
  readonly #limits: AttributeLimits;
  readonly #reader = idleReader();
  #samples = 0;
  readonly #keys = new SeriesKeyList();
  /** Whether the labels `#labelsKey` last read are all ASCII. */
  #labelsAscii = true;
  readonly #wasm: RemoteWriteWasm | undefined;

  /**
   * With `wasm`, a body that is its last output is checked there, in WebAssembly
   * (`remote-write-check.wat`, the same checks and keys), unless it needs this one.
   */
  constructor(limits: AttributeLimits, wasm?: RemoteWriteWasm) {
    this.#limits = limits;
    this.#wasm = wasm;
  }

  /** The body as a request to carry, or `undefined`: decode it (see the class comment). */
  validate(body: Uint8Array): EncodedRequest | undefined {
    const checked = this.#wasm?.check(body, this.#limits) ?? this.#check(body);
    if (!checked) return undefined;
    return {
      format: 'prometheus-remote-write',
      bytes: body,
      points: checked.points,
      seriesKeys: checked.seriesKeys,
    };
  }

  /** The check in JavaScript: the body's samples and keys, or `false` when not taken. */
  #check(body: Uint8Array): CheckedWriteRequest | false {
    this.#samples = 0;
    this.#keys.clear();
    const taken = walkBody(this.#reader, body, (reader, end) => {
      while (reader.pos < end) {
        const tag = reader.varint32(end);
        if (tag === 0x0a) this.#series(reader.delimited(end));
        else if (tag === 0x1a) this.#metadata(reader.delimited(end));
        else return false;
      }
      return true;
    });
    return taken && { points: this.#samples, seriesKeys: this.#keys.take() };
  }

  /** `TimeSeries { 1: labels, 2: samples }`. */
  #series(end: number): void {
    const reader = this.#reader;
    const start = reader.pos;
    let labels = 0;
    let labelsStart = -1;
    let labelsEnd = -1;
    const buf = reader.buf;
    while (reader.pos < end) {
      const at = reader.pos;
      // A label of under 128 bytes, the usual: its tag and length are a byte each.
      if (buf[at] === 0x0a && buf[at + 1] < 0x80 && at + 2 <= end) {
        if (++labels > this.#limits.maxAttributes) throw NOT_TAKEN;
        const stop = at + 2 + buf[at + 1];
        if (stop > end) throw NOT_TAKEN;
        reader.pos = at + 2;
        if (labelsStart === -1) labelsStart = reader.pos;
        this.#label(stop);
        labelsEnd = stop;
        continue;
      }
      const tag = reader.varint32(end);
      if (tag === 0x0a) {
        if (++labels > this.#limits.maxAttributes) throw NOT_TAKEN;
        const stop = reader.delimited(end);
        if (labelsStart === -1) labelsStart = reader.pos;
        this.#label(stop);
        labelsEnd = stop;
      } else if (tag === 0x12) {
        this.#sample(reader.delimited(end));
        this.#samples++;
      } else throw NOT_TAKEN;
    }
    if (labelsStart === -1) return;
    // The labels' bytes name the series (samples between them, if any, go into the key too:
    // such a sender only loses per-series ordering between its own requests).
    const key = this.#labelsKey(reader.view, labelsStart, labelsEnd);
    // Label text is UTF-8: nearly always ASCII, which the same pass shows (the labels' tags
    // and one-byte lengths are under 0x80 too); only otherwise each string is checked.
    if (!this.#labelsAscii) this.#checkText(start, end);
    this.#keys.push(key);
  }

  /**
   * A series' ordering key: a hash of its labels' bytes `start..end`, in one pass with the
   * check that they are all ASCII (`#labelsAscii`). Keys of remote write are only ever
   * compared with each other, so the hash is a word-at-a-time one, cheaper than the
   * attribute tables' (a collision only makes one delivery wait for another).
   */
  #labelsKey(view: DataView, start: number, end: number): number {
    let hash = 0x3c6ef372 ^ (end - start);
    let bits = 0;
    let i = start;
    for (; i + 4 <= end; i += 4) {
      const word = view.getInt32(i, true);
      bits |= word;
      hash = Math.imul(hash ^ word, 0x9e3779b1);
      hash ^= hash >>> 15;
    }
    let tail = 0;
    for (let shift = 0; i < end; i++, shift += 8) {
      const byte = view.getUint8(i);
      bits |= byte;
      tail |= byte << shift;
    }
    this.#labelsAscii = (bits & 0x80808080) === 0;
    hash = Math.imul(hash ^ tail, 0x85ebca6b);
    hash ^= hash >>> 13;
    hash = Math.imul(hash, 0xc2b2ae35);
    return (hash ^ (hash >>> 16)) | 0;
  }

  /**
   * `Label { 1: name, 2: value }`, the value within the attribute size limit (the text is
   * checked for the whole series, in `#series`). Read byte by byte rather than through the
   * reader: labels are most of a request, and their tags and lengths are single bytes.
   * Anything unusual (a long length, a field out of bounds) is left to the decoder, which
   * says what is wrong.
   */
  #label(end: number): void {
    const reader = this.#reader;
    const buf = reader.buf;
    const maxValueBytes = this.#limits.maxValueBytes;
    let pos = reader.pos;
    while (pos < end) {
      const tag = buf[pos];
      const length = buf[pos + 1];
      if ((tag !== 0x0a && tag !== 0x12) || length >= 0x80 || pos + 2 > end) throw NOT_TAKEN;
      const start = pos + 2;
      const stop = start + length;
      // As an attribute the value is an `AnyValue { string_value }`: tag, length, text.
      if (stop > end || (tag === 0x12 && 2 + length > maxValueBytes)) throw NOT_TAKEN;
      pos = stop;
    }
    reader.pos = pos;
  }

  /**
   * Each label name and value of the `TimeSeries` at `start..end` (whose structure `#series`
   * checked) as UTF-8.
   */
  #checkText(start: number, end: number): void {
    const reader = this.#reader;
    const buf = reader.buf;
    const resume = reader.pos;
    reader.pos = start;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      const stop = reader.delimited(end);
      if (tag === 0x0a) {
        // The label's fields: a tag and a one-byte length each (`#label` took no other).
        for (let pos = reader.pos; pos < stop; pos += 2 + buf[pos + 1]) {
          checkUtf8(buf, pos + 2, pos + 2 + buf[pos + 1]);
        }
      }
      reader.pos = stop;
    }
    reader.pos = resume;
  }

  /** `Sample { 1: value (double), 2: timestamp (int64 varint) }`. */
  #sample(end: number): void {
    const reader = this.#reader;
    const buf = reader.buf;
    const pos = reader.pos;
    // The sample every client writes: the value's tag and 8 bytes, then the timestamp's tag
    // and a varint of at most 10 bytes that ends the message. Anything else: field by field.
    if (buf[pos] === 0x09 && buf[pos + 9] === 0x10 && pos + 11 <= end && end - pos <= 20) {
      let at = pos + 10;
      while (at < end - 1 && buf[at] >= 0x80) at++;
      if (at === end - 1 && buf[at] < 0x80) {
        reader.pos = end;
        return;
      }
    }
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === 0x09) reader.double(end);
      else if (tag === 0x10) reader.varint64(end);
      else throw NOT_TAKEN;
    }
  }

  /** `MetricMetadata { 1: type, 2: family, 4: help, 5: unit }`. */
  #metadata(end: number): void {
    const reader = this.#reader;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === 0x08) {
        if (reader.varint32(end) > 7) throw NOT_TAKEN;
      } else if (tag === 0x12 || tag === 0x22 || tag === 0x2a) {
        const stop = reader.delimited(end);
        checkUtf8(reader.buf, reader.pos, stop);
        reader.pos = stop;
      } else throw NOT_TAKEN;
    }
  }
}
