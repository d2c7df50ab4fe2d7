import type { AttributeLimits } from '../../model/attribute-limits.js';
import { hashText } from '../../model/attribute-table.js';
import { CanonicalSet } from '../../model/canonical-set.js';
import type { EncodedRequest } from '../../model/encoded-request.js';
import { validateKeyValue } from '../../model/key-value-bytes.js';
import { MetricType, Temporality } from '../../model/types.js';
import { checkUtf8, isAscii, readUtf8 } from '../../model/utf8.js';
import type { WireReader } from '../../model/wire-reader.js';
import { idleReader, NOT_TAKEN, SeriesKeyList, walkBody } from '../relay-check.js';
import {
  BucketsField,
  DataField,
  DistributionField,
  ExemplarField,
  ExponentialPointField,
  HistogramPointField,
  MetricField,
  metricDataType,
  NumberPointField,
  PointField,
  QuantileField,
  RequestField,
  ResourceField,
  ResourceMetricsField,
  ScopeField,
  ScopeMetricsField,
  SummaryPointField,
} from './otlp-fields.js';

/**
 * Checks an OTLP `ExportMetricsServiceRequest` body without decoding it, so a pipeline that
 * needs no points (a relay: receiver → batch → OTLP exporter) can carry the bytes as they
 * came to the exporter's queue — protobuf messages concatenate, so the queue joins requests
 * into larger ones byte for byte. It is the decoder's validation without the batch: every
 * string and attribute must be what the decoder accepts (UTF-8, `AnyValue` nesting), the
 * receiver's attribute limits hold for points and resources, and a metric has one kind of
 * data. It is stricter than the decoder on purpose: an unknown field, a field with an
 * unexpected wire type, a metric without data or anything malformed and the body is not
 * taken (`undefined`) — the caller decodes it, which yields the error for bad data, and
 * nothing unknown is passed on blind. Fuzzed against the decoder: no body the decoder
 * refuses gets through (`test/fuzz/`).
 *
 * Along the way it gathers what the delivery engine needs: the point count, and the key of
 * each point's series whose order matters (all but delta) — the same key a decoded batch's
 * series gets (`MetricBatch.seriesHash`), so requests and batches of one series keep their
 * order between concurrent sends.
 */
export class OtlpRequestValidator {
  readonly format = 'otlp';
  readonly #limits: AttributeLimits;
  readonly #reader = idleReader();
  #points = 0;
  readonly #keys = new SeriesKeyList();
  /** The metric's name hash mixed into its points' keys; undefined for delta metrics. */
  #nameHash: number | undefined;
  /** The hash of the point's attribute set as a decoded batch stores it, for its key. */
  readonly #set = new CanonicalSet(this.#reader);
  #attributes = 0;
  #withKeys = true;

  constructor(limits: AttributeLimits) {
    this.#limits = limits;
  }

  /**
   * The body as a request to carry, or `undefined`: decode it (see the class comment).
   * `seriesKeys` false: the consumer orders nothing by series, skip gathering their keys.
   */
  validate(body: Uint8Array, seriesKeys = true): EncodedRequest | undefined {
    this.#withKeys = seriesKeys;
    this.#points = 0;
    this.#keys.clear();
    const taken = walkBody(this.#reader, body, (reader, end) => {
      while (reader.pos < end) {
        if (reader.varint32(end) !== RequestField.ResourceMetrics) return false;
        this.#resourceMetrics(reader.delimited(end));
      }
      return true;
    });
    if (!taken) return undefined;
    return {
      bytes: body,
      points: this.#points,
      seriesKeys: this.#keys.take(),
    };
  }

  #resourceMetrics(end: number): void {
    const reader = this.#reader;
    // A resource sent in parts is one resource: its limits hold for all parts together.
    this.#attributes = 0;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === ResourceMetricsField.Resource) this.#resource(reader.delimited(end));
      else if (tag === ResourceMetricsField.ScopeMetrics) this.#scopeMetrics(reader.delimited(end));
      else if (tag === ResourceMetricsField.SchemaUrl) this.#string(end);
      else throw NOT_TAKEN;
    }
  }

  #resource(end: number): void {
    const reader = this.#reader;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === ResourceField.Attributes) this.#attribute(end);
      else if (tag === ResourceField.DroppedAttributesCount) reader.varint32(end);
      else throw NOT_TAKEN;
    }
  }

  #scopeMetrics(end: number): void {
    const reader = this.#reader;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === ScopeMetricsField.Scope) this.#scope(reader.delimited(end));
      else if (tag === ScopeMetricsField.Metrics) this.#metric(reader.delimited(end));
      else if (tag === ScopeMetricsField.SchemaUrl) this.#string(end);
      else throw NOT_TAKEN;
    }
  }

  #scope(end: number): void {
    const reader = this.#reader;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === ScopeField.Name || tag === ScopeField.Version) this.#string(end);
      else if (tag === ScopeField.Attributes) this.#keyValue(end);
      else if (tag === ScopeField.DroppedAttributesCount) reader.varint32(end);
      else throw NOT_TAKEN;
    }
  }

  #metric(end: number): void {
    const reader = this.#reader;
    const begin = reader.pos;
    let type: MetricType = MetricType.Empty;
    let name = '';
    // First the fields that say what the points are (they may follow the data on the wire).
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      const kind = metricDataType(tag);
      if (kind !== MetricType.Empty) {
        // Two kinds of data in one metric: the decoder refuses it and says so.
        if (type !== MetricType.Empty && type !== kind) throw NOT_TAKEN;
        type = kind;
        reader.pos = reader.delimited(end);
      } else if (tag === MetricField.Name) name = this.#string(end, true);
      else if (tag === MetricField.Description || tag === MetricField.Unit) this.#string(end);
      else if (tag === MetricField.Metadata) this.#keyValue(end);
      else throw NOT_TAKEN;
    }
    if (type === MetricType.Empty) throw NOT_TAKEN;
    reader.pos = begin;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (metricDataType(tag) === MetricType.Empty) reader.skip(tag & 7, end);
      else this.#data(type, name, reader.delimited(end));
    }
  }

  #data(type: MetricType, name: string, end: number): void {
    const reader = this.#reader;
    const begin = reader.pos;
    let temporality = 0;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === DataField.Points) reader.pos = reader.delimited(end);
      else if (
        tag === DataField.AggregationTemporality &&
        type !== MetricType.Gauge &&
        type !== MetricType.Summary
      ) {
        const value = reader.varint32(end);
        temporality = value <= 2 ? value : 0;
      } else if (tag === DataField.IsMonotonic && type === MetricType.Sum) reader.varint32(end);
      else throw NOT_TAKEN;
    }
    this.#nameHash =
      !this.#withKeys || temporality === Temporality.Delta
        ? undefined
        : hashText(name) /* see MetricBatch */;
    reader.pos = begin;
    const buf = reader.buf;
    while (reader.pos < end) {
      const tag = buf[reader.pos] < 0x80 ? buf[reader.pos++] : reader.varint32(end);
      if (tag !== DataField.Points) {
        reader.skip(tag & 7, end);
        continue;
      }
      const stop = reader.delimited(end);
      this.#set.begin();
      this.#attributes = 0;
      if (type === MetricType.Gauge || type === MetricType.Sum) this.#numberPoint(stop);
      else if (type === MetricType.Histogram) this.#histogramPoint(stop);
      else if (type === MetricType.ExponentialHistogram) this.#exponentialPoint(stop);
      else this.#summaryPoint(stop);
      this.#endPoint();
    }
  }

  #numberPoint(end: number): void {
    const reader = this.#reader;
    const buf = reader.buf;
    while (reader.pos < end) {
      // A one-byte tag and an 8-byte field read here, not through the reader: they are most
      // of a point, and the calls are too many for V8 to inline them all in these loops.
      const tag = buf[reader.pos] < 0x80 ? buf[reader.pos++] : reader.varint32(end);
      switch (tag) {
        case PointField.StartTime:
        case PointField.Time:
        case NumberPointField.AsDouble:
        case NumberPointField.AsInt:
          skipFixed64(reader, end);
          break;
        case NumberPointField.Exemplars:
          this.#exemplar(reader.delimited(end));
          break;
        case NumberPointField.Attributes:
          this.#attribute(end, true);
          break;
        case NumberPointField.Flags:
          reader.varint32(end);
          break;
        default:
          throw NOT_TAKEN;
      }
    }
  }

  #histogramPoint(end: number): void {
    const reader = this.#reader;
    const buf = reader.buf;
    while (reader.pos < end) {
      const tag = buf[reader.pos] < 0x80 ? buf[reader.pos++] : reader.varint32(end);
      switch (tag) {
        case PointField.StartTime:
        case PointField.Time:
        case DistributionField.Count:
        case DistributionField.Sum:
        case HistogramPointField.Min:
        case HistogramPointField.Max:
          skipFixed64(reader, end);
          break;
        case HistogramPointField.BucketCounts:
        case HistogramPointField.ExplicitBounds: {
          const stop = reader.delimited(end);
          if ((stop - reader.pos) % 8 !== 0) throw NOT_TAKEN;
          reader.pos = stop;
          break;
        }
        case HistogramPointField.Exemplars:
          this.#exemplar(reader.delimited(end));
          break;
        case HistogramPointField.Attributes:
          this.#attribute(end, true);
          break;
        case HistogramPointField.Flags:
          reader.varint32(end);
          break;
        default:
          throw NOT_TAKEN;
      }
    }
  }

  #exponentialPoint(end: number): void {
    const reader = this.#reader;
    const buf = reader.buf;
    while (reader.pos < end) {
      const tag = buf[reader.pos] < 0x80 ? buf[reader.pos++] : reader.varint32(end);
      switch (tag) {
        case PointField.StartTime:
        case PointField.Time:
        case DistributionField.Count:
        case DistributionField.Sum:
        case ExponentialPointField.ZeroCount:
        case ExponentialPointField.Min:
        case ExponentialPointField.Max:
        case ExponentialPointField.ZeroThreshold:
          skipFixed64(reader, end);
          break;
        case ExponentialPointField.Scale:
        case ExponentialPointField.Flags:
          reader.varint32(end);
          break;
        case ExponentialPointField.Positive:
        case ExponentialPointField.Negative:
          this.#buckets(reader.delimited(end));
          break;
        case ExponentialPointField.Exemplars:
          this.#exemplar(reader.delimited(end));
          break;
        case ExponentialPointField.Attributes:
          this.#attribute(end, true);
          break;
        default:
          throw NOT_TAKEN;
      }
    }
  }

  #buckets(end: number): void {
    const reader = this.#reader;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === BucketsField.Offset) reader.varint32(end);
      else if (tag === BucketsField.BucketCounts) {
        const stop = reader.delimited(end);
        while (reader.pos < stop) reader.varint64(stop);
      } else throw NOT_TAKEN;
    }
  }

  #summaryPoint(end: number): void {
    const reader = this.#reader;
    const buf = reader.buf;
    while (reader.pos < end) {
      const tag = buf[reader.pos] < 0x80 ? buf[reader.pos++] : reader.varint32(end);
      switch (tag) {
        case PointField.StartTime:
        case PointField.Time:
        case DistributionField.Count:
        case DistributionField.Sum:
          skipFixed64(reader, end);
          break;
        case SummaryPointField.QuantileValues: {
          const stop = reader.delimited(end);
          while (reader.pos < stop) {
            const t = reader.varint32(stop);
            if (t !== QuantileField.Quantile && t !== QuantileField.Value) throw NOT_TAKEN;
            reader.fixed64(stop);
          }
          break;
        }
        case SummaryPointField.Attributes:
          this.#attribute(end, true);
          break;
        case SummaryPointField.Flags:
          reader.varint32(end);
          break;
        default:
          throw NOT_TAKEN;
      }
    }
  }

  #exemplar(end: number): void {
    const reader = this.#reader;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      switch (tag) {
        case ExemplarField.Time:
        case ExemplarField.AsDouble:
        case ExemplarField.AsInt:
          reader.fixed64(end);
          break;
        case ExemplarField.SpanId:
        case ExemplarField.TraceId:
          reader.pos = reader.delimited(end);
          break;
        case ExemplarField.FilteredAttributes:
          this.#keyValue(end);
          break;
        default:
          throw NOT_TAKEN;
      }
    }
  }

  /**
   * One attribute of a point (`ofPoint`, gathered into the set its key is made of) or of a
   * resource, checked as the decoder checks it and against
   * the receiver's limits.
   */
  #attribute(end: number, ofPoint = false): void {
    const reader = this.#reader;
    const lengthStart = reader.pos;
    const length = reader.buf[lengthStart];
    let stop: number;
    if (length < 0x80 && lengthStart + 1 + length <= end) {
      stop = lengthStart + 1 + length;
      reader.pos = lengthStart + 1;
    } else stop = reader.delimited(end);
    const limits = this.#limits;
    // Over the limits, the decoder's own check says which attribute and by how much.
    if (++this.#attributes > limits.maxAttributes) throw NOT_TAKEN;
    const simpleValueBytes = this.#simpleKeyValue(reader.pos, stop);
    if (simpleValueBytes >= 0) {
      if (simpleValueBytes > limits.maxValueBytes) throw NOT_TAKEN;
    } else {
      validateKeyValue(reader, stop, 0);
      if (
        stop - lengthStart > limits.maxValueBytes &&
        valueBytes(reader, lengthStart, stop) > limits.maxValueBytes
      )
        throw NOT_TAKEN;
    }
    reader.pos = stop;
    if (!ofPoint || this.#nameHash === undefined) return;
    this.#set.add(lengthStart - 1, stop);
  }

  /**
   * The common attribute — a short ASCII key, and a short ASCII string, an integer, a bool
   * or a double — checked byte by byte (attributes are most of a request): the encoded
   * size of its value, or -1 for any other shape, which `validateKeyValue` checks instead.
   */
  #simpleKeyValue(start: number, stop: number): number {
    const buf = this.#reader.buf;
    const keyLength = buf[start + 1];
    if (buf[start] !== 0x0a || keyLength >= 0x80) return -1;
    const keyEnd = start + 2 + keyLength;
    if (keyEnd + 2 > stop) return -1;
    const valueLength = buf[keyEnd + 1];
    const value = keyEnd + 2;
    if (buf[keyEnd] !== 0x12 || valueLength >= 0x80 || value + valueLength !== stop) return -1;
    const view = this.#reader.view;
    const tag = buf[value];
    if (valueLength > 0 && tag === 0x0a) {
      // string_value. Its tag and length and the value's are under 0x80 (checked), so the
      // key and the string are checked in one pass from the key to the end.
      const length = buf[value + 1];
      if (length >= 0x80 || value + 2 + length !== stop) return -1;
      return isAscii(view, start + 2, stop) ? valueLength : -1;
    }
    if (!isAscii(view, start + 2, keyEnd)) return -1;
    if (valueLength === 0) return 0;
    if (tag === 0x10 || tag === 0x18) {
      // bool_value, int_value: one varint of at most 10 bytes
      let last = value + 1;
      while (last < stop && buf[last] >= 0x80) last++;
      return last + 1 === stop && last - value <= 10 ? valueLength : -1;
    }
    // double_value
    return tag === 0x21 && value + 9 === stop ? valueLength : -1;
  }

  /** A `KeyValue` checked as the decoder checks it; returns where it ends. */
  #keyValue(end: number): number {
    const reader = this.#reader;
    const stop = reader.delimited(end);
    validateKeyValue(reader, stop, 0);
    return stop;
  }

  #endPoint(): void {
    this.#points++;
    const nameHash = this.#nameHash;
    if (nameHash === undefined) return;
    this.#keys.push(Math.imul(this.#set.hash() ^ nameHash, 0x01000193) | 0);
  }

  /** A string field checked as UTF-8; its text only when `read`. */
  #string(end: number, read = false): string {
    const reader = this.#reader;
    const stop = reader.delimited(end);
    let text = '';
    if (read) text = readUtf8(reader.buf, reader.pos, stop);
    else checkUtf8(reader.buf, reader.pos, stop);
    reader.pos = stop;
    return text;
  }
}

/** Steps over an 8-byte field's value (its value is not needed). */
function skipFixed64(reader: WireReader, end: number): void {
  if (reader.pos + 8 > end) throw NOT_TAKEN;
  reader.pos += 8;
}

/** The encoded size of the value of the `KeyValue` whose length prefix starts at `start`. */
function valueBytes(reader: WireReader, start: number, end: number): number {
  reader.pos = start;
  reader.delimited(end);
  let size = 0;
  while (reader.pos < end) {
    const tag = reader.varint32(end);
    if (tag === 0x12) {
      const stop = reader.delimited(end);
      size = stop - reader.pos;
      reader.pos = stop;
    } else reader.skip(tag & 7, end);
  }
  return size;
}
