import type { KeyValue } from '../../model/any-value.js';
import { CanonicalSet } from '../../model/canonical-set.js';
import { copyOf } from '../../model/copy-bytes.js';
import { DecodeError } from '../../model/errors.js';
import { readKeyValue, validateKeyValue } from '../../model/key-value-bytes.js';
import {
  type MetricsRequestVisitor,
  PointRecord,
  type ScannedMetric,
} from '../../model/request-visitor.js';
import { MetricType, PointBits, type Temporality } from '../../model/types.js';
import { readUtf8 } from '../../model/utf8.js';
import { WireReader } from '../../model/wire-reader.js';
import {
  DataField,
  DistributionField,
  HistogramPointField,
  MetricField,
  NumberPointField,
  PointField,
  RequestField,
  ResourceField,
  ResourceMetricsField,
  ScopeField,
  ScopeMetricsField,
} from './otlp-fields.js';

const TWO_32 = 2 ** 32;
const NOTHING = new Uint8Array(0);
const NO_VIEW = new DataView(NOTHING.buffer);
/** Numbers kept per checked point (see `#record`). */
const FIELDS = 14;
/** After this many requests in a row went the usual way, only every `RETRY_EVERY`th is tried. */
const MISSES_BEFORE_BACKOFF = 8;
const RETRY_EVERY = 16;

/**
 * Hands the points of an OTLP `ExportMetricsServiceRequest` to a `MetricsRequestVisitor`
 * straight from the request bytes: no `MetricBatch`, no copy of a point, and attribute sets
 * only gathered for the visitor to look up. It is the collector's fast path for a
 * pipeline whose first processor keeps state per series (the aggregate processor): in the
 * steady state every series is known, and decoding a batch only to look each series up
 * again was most of the work.
 *
 * Only what the visitor can take exactly as the decoder would read it is scanned: a field
 * the scan does not expect (exemplars, flags, unpacked bucket counts, unknown fields), a
 * malformed body or a visitor's `false` ends the scan with nothing changed, and the caller
 * decodes the request as usual — which also produces the error for bad data. After
 * `MISSES_BEFORE_BACKOFF` such requests in a row, only every `RETRY_EVERY`th is tried, so a
 * pipeline where the fast path never applies pays little for it.
 */
export class MetricsRequestScanner {
  readonly #visitor: MetricsRequestVisitor;
  readonly #point = new PointRecord();
  readonly #metric: ScannedMetric = {
    resourceAttributes: [],
    resourceSchemaUrl: '',
    scopeName: '',
    scopeVersion: '',
    name: '',
    description: '',
    unit: '',
    type: MetricType.Empty,
    temporality: 0,
    monotonic: false,
  };
  /** Reads the body being scanned (`buf` and `view` are the body's). */
  readonly #reader = new WireReader(NOTHING);
  /** The point's attribute set being gathered (entries retagged `0x0a`). */
  readonly #set = new CanonicalSet(this.#reader);
  readonly #inPlace: boolean;
  /** The last resource's bytes and its decoded attributes (the same object while equal). */
  #resourceBytes: Uint8Array = new Uint8Array(0);
  #resourceAttributes: KeyValue[] = [];
  /** The checked points' fields, `FIELDS` numbers each, replayed to `takePoint`. */
  #records = new Float64Array(1024 * FIELDS);
  #points = 0;
  #misses = 0;
  #skipped = 0;

  /**
   * `inPlace`: the bodies scanned are the caller's alone while `scan` runs (no other thread
   * reads them, as a receiver's are when it offers them first), so a point's attribute run
   * may be retagged where it lies for the visitor to read, and put back before the next
   * point is read, instead of copied into a set: the copy was 8 % of the collector's CPU on
   * `otlp → aggregate`, retagging and putting back about 5 %. A body an exporter may hold is
   * scanned with the copy.
   */
  constructor(visitor: MetricsRequestVisitor, options: { inPlace?: boolean } = {}) {
    this.#visitor = visitor;
    this.#inPlace = options.inPlace ?? false;
  }

  /** Points taken, or -1 when the request must be decoded and consumed the usual way. */
  scan(body: Uint8Array): number {
    if (this.#misses >= MISSES_BEFORE_BACKOFF && ++this.#skipped % RETRY_EVERY !== 0) return -1;
    this.#reader.reset(body);
    this.#visitor.beginScan();
    let scannable = false;
    try {
      scannable = this.#check();
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
    }
    if (scannable) this.#take();
    this.#misses = scannable ? 0 : this.#misses + 1;
    // Keep no reference to the body (the receiver reuses or drops it).
    this.#reader.reset(NOTHING);
    this.#point.counts = this.#point.bounds = this.#point.set = NO_VIEW;
    return scannable ? this.#points : -1;
  }

  /** The first pass: reads every point and has the visitor check it; records what it read. */
  #check(): boolean {
    this.#points = 0;
    const reader = this.#reader;
    const end = reader.buf.length;
    reader.pos = 0;
    while (reader.pos < end) {
      if (reader.varint32(end) !== RequestField.ResourceMetrics) return false;
      if (!this.#resourceMetrics(reader.delimited(end))) return false;
    }
    return true;
  }

  #resourceMetrics(end: number): boolean {
    const reader = this.#reader;
    const begin = reader.pos;
    const metric = this.#metric;
    metric.resourceAttributes = [];
    metric.resourceSchemaUrl = '';
    // The resource and schema URL may come after the scopes on the wire: read them first.
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === ResourceMetricsField.Resource) {
        const stop = reader.delimited(end);
        const attributes = this.#resource(stop);
        if (!attributes) return false;
        metric.resourceAttributes = attributes;
      } else if (tag === ResourceMetricsField.ScopeMetrics) reader.pos = reader.delimited(end);
      else if (tag === ResourceMetricsField.SchemaUrl) metric.resourceSchemaUrl = this.#string(end);
      else return false;
    }
    reader.pos = begin;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === ResourceMetricsField.ScopeMetrics) {
        if (!this.#scopeMetrics(reader.delimited(end))) return false;
      } else reader.skip(tag & 7, end);
    }
    return true;
  }

  /** The resource's attributes: the previous array when the bytes are the previous ones. */
  #resource(end: number): KeyValue[] | undefined {
    const reader = this.#reader;
    const body = reader.buf;
    const start = reader.pos;
    const last = this.#resourceBytes;
    if (last.length === end - start) {
      let k = 0;
      while (k < last.length && last[k] === body[start + k]) k++;
      if (k === last.length) {
        reader.pos = end;
        return this.#resourceAttributes;
      }
    }
    const attributes: KeyValue[] = [];
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === ResourceField.Attributes)
        attributes.push(readKeyValue(reader, reader.delimited(end), 0));
      else if (tag === ResourceField.DroppedAttributesCount) reader.varint32(end);
      else return undefined;
    }
    this.#resourceBytes = copyOf(body, start, end);
    this.#resourceAttributes = attributes;
    return attributes;
  }

  #scopeMetrics(end: number): boolean {
    const reader = this.#reader;
    const begin = reader.pos;
    const metric = this.#metric;
    metric.scopeName = '';
    metric.scopeVersion = '';
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === ScopeMetricsField.Scope) {
        const stop = reader.delimited(end);
        while (reader.pos < stop) {
          const t = reader.varint32(stop);
          if (t === ScopeField.Name) metric.scopeName = this.#string(stop);
          else if (t === ScopeField.Version) metric.scopeVersion = this.#string(stop);
          else if (t === ScopeField.Attributes) validateKeyValue(reader, reader.delimited(stop), 0);
          else if (t === ScopeField.DroppedAttributesCount) reader.varint32(stop);
          else return false;
        }
      } else if (tag === ScopeMetricsField.Metrics) reader.pos = reader.delimited(end);
      else if (tag === ScopeMetricsField.SchemaUrl) this.#string(end);
      else return false;
    }
    reader.pos = begin;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === ScopeMetricsField.Metrics) {
        if (!this.#metricData(reader.delimited(end))) return false;
      } else reader.skip(tag & 7, end);
    }
    return true;
  }

  #metricData(end: number): boolean {
    const reader = this.#reader;
    const metric = this.#metric;
    metric.name = '';
    metric.description = '';
    metric.unit = '';
    metric.monotonic = false;
    let dataStart = -1;
    let dataEnd = -1;
    let type: MetricType = MetricType.Empty;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === MetricField.Name) metric.name = this.#string(end);
      else if (tag === MetricField.Description) metric.description = this.#string(end);
      else if (tag === MetricField.Unit) metric.unit = this.#string(end);
      else if (tag === MetricField.Metadata) validateKeyValue(reader, reader.delimited(end), 0);
      else if (
        (tag === MetricField.Gauge || tag === MetricField.Sum || tag === MetricField.Histogram) &&
        dataStart === -1
      ) {
        type =
          tag === MetricField.Gauge
            ? MetricType.Gauge
            : tag === MetricField.Sum
              ? MetricType.Sum
              : MetricType.Histogram;
        dataEnd = reader.delimited(end);
        dataStart = reader.pos;
        reader.pos = dataEnd;
      } else return false;
    }
    if (dataStart === -1) return false;
    // The temporality may follow the points on the wire (it does in field order): read it first.
    let temporality = 0;
    reader.pos = dataStart;
    while (reader.pos < dataEnd) {
      const tag = reader.varint32(dataEnd);
      if (tag === DataField.Points) reader.pos = reader.delimited(dataEnd);
      else if (tag === DataField.AggregationTemporality && type !== MetricType.Gauge) {
        const value = reader.varint32(dataEnd);
        temporality = value <= 2 ? value : 0;
      } else if (tag === DataField.IsMonotonic && type === MetricType.Sum)
        metric.monotonic = reader.varint32(dataEnd) !== 0;
      else return false;
    }
    metric.type = type;
    metric.temporality = temporality as Temporality;
    if (!this.#visitor.visitMetric(metric)) return false;
    reader.pos = dataStart;
    const buf = reader.buf;
    while (reader.pos < dataEnd) {
      const tag = buf[reader.pos] < 0x80 ? buf[reader.pos++] : reader.varint32(dataEnd);
      if (tag !== DataField.Points) {
        reader.skip(tag & 7, dataEnd);
        continue;
      }
      const stop = reader.delimited(dataEnd);
      const read =
        type === MetricType.Histogram ? this.#histogramPoint(stop) : this.#numberPoint(stop);
      if (!read) return false;
      let known: boolean;
      try {
        known = this.#visitor.checkPoint(this.#point);
      } finally {
        this.#set.putBack();
      }
      if (!known) return false;
      this.#record(this.#points++);
    }
    return true;
  }

  /**
   * Keeps point `k`'s fields for the second pass, which then reads a few numbers in order
   * instead of parsing the request again.
   */
  #record(k: number): void {
    if ((k + 1) * FIELDS > this.#records.length) {
      const grown = new Float64Array(this.#records.length * 2);
      grown.set(this.#records);
      this.#records = grown;
    }
    const r = this.#records;
    const p = this.#point;
    const at = k * FIELDS;
    r[at] = p.startHi;
    r[at + 1] = p.startLo;
    r[at + 2] = p.timeHi;
    r[at + 3] = p.timeLo;
    r[at + 4] = p.bits;
    r[at + 5] = p.value;
    r[at + 6] = p.count;
    r[at + 7] = p.sum;
    r[at + 8] = p.min;
    r[at + 9] = p.max;
    r[at + 10] = p.countsAt;
    r[at + 11] = p.countsLength;
    r[at + 12] = p.boundsAt;
    r[at + 13] = p.boundsLength;
  }

  /** The second pass: every recorded point to `takePoint`, in order. */
  #take(): void {
    const r = this.#records;
    const p = this.#point;
    const visitor = this.#visitor;
    p.counts = p.bounds = this.#reader.view;
    for (let k = 0, at = 0; k < this.#points; k++, at += FIELDS) {
      p.startHi = r[at];
      p.startLo = r[at + 1];
      p.timeHi = r[at + 2];
      p.timeLo = r[at + 3];
      p.bits = r[at + 4];
      p.value = r[at + 5];
      p.count = r[at + 6];
      p.sum = r[at + 7];
      p.min = r[at + 8];
      p.max = r[at + 9];
      p.countsAt = r[at + 10];
      p.countsLength = r[at + 11];
      p.boundsAt = r[at + 12];
      p.boundsLength = r[at + 13];
      visitor.takePoint(p);
    }
  }

  #numberPoint(end: number): boolean {
    const reader = this.#reader;
    // One-byte tags read here, not through the reader, as in `OtlpRequestValidator`.
    const buf = reader.buf;
    const p = this.#beginPoint();
    p.value = 0;
    while (reader.pos < end) {
      const tag = buf[reader.pos] < 0x80 ? buf[reader.pos++] : reader.varint32(end);
      switch (tag) {
        case NumberPointField.AsDouble:
          p.value = reader.double(end);
          break;
        case NumberPointField.AsInt:
          reader.fixed64(end);
          p.value = (reader.hi | 0) * TWO_32 + reader.lo;
          break;
        case NumberPointField.Attributes:
          this.#attribute(end);
          break;
        case NumberPointField.Flags:
          if (reader.varint32(end) !== 0) return false;
          break;
        default:
          if (!this.#pointTime(tag, end)) return false;
      }
    }
    this.#endSet();
    return true;
  }

  #histogramPoint(end: number): boolean {
    const reader = this.#reader;
    const buf = reader.buf;
    const p = this.#beginPoint();
    p.count = p.sum = 0;
    p.counts = p.bounds = reader.view;
    p.countsAt = p.boundsAt = -1;
    p.countsLength = p.boundsLength = 0;
    while (reader.pos < end) {
      const tag = buf[reader.pos] < 0x80 ? buf[reader.pos++] : reader.varint32(end);
      switch (tag) {
        case DistributionField.Count:
          reader.fixed64(end);
          p.count = reader.hi * TWO_32 + reader.lo;
          break;
        case DistributionField.Sum:
          p.sum = reader.double(end);
          p.bits |= PointBits.HasSum;
          break;
        case HistogramPointField.BucketCounts:
          if (p.countsAt !== -1) return false;
          p.countsLength = this.#packed64(end);
          if (p.countsLength === -1) return false;
          p.countsAt = reader.pos - 8 * p.countsLength;
          break;
        case HistogramPointField.ExplicitBounds:
          if (p.boundsAt !== -1) return false;
          p.boundsLength = this.#packed64(end);
          if (p.boundsLength === -1) return false;
          p.boundsAt = reader.pos - 8 * p.boundsLength;
          break;
        case HistogramPointField.Attributes:
          this.#attribute(end);
          break;
        case HistogramPointField.Flags:
          if (reader.varint32(end) !== 0) return false;
          break;
        case HistogramPointField.Min:
          p.min = reader.double(end);
          p.bits |= PointBits.HasMin;
          break;
        case HistogramPointField.Max:
          p.max = reader.double(end);
          p.bits |= PointBits.HasMax;
          break;
        default:
          if (!this.#pointTime(tag, end)) return false;
      }
    }
    this.#endSet();
    return true;
  }

  /** Fields 2 and 3 of every point kind: start time and time. False for any other tag. */
  #pointTime(tag: number, end: number): boolean {
    const reader = this.#reader;
    const p = this.#point;
    if (tag !== PointField.StartTime && tag !== PointField.Time) return false;
    reader.fixed64(end);
    if (tag === PointField.StartTime) {
      p.startLo = reader.lo;
      p.startHi = reader.hi;
    } else {
      p.timeLo = reader.lo;
      p.timeHi = reader.hi;
    }
    return true;
  }

  /** Skips a packed run of 8-byte values; their count, or -1 if its length is not a multiple of 8. */
  #packed64(end: number): number {
    const reader = this.#reader;
    const stop = reader.delimited(end);
    const length = stop - reader.pos;
    reader.pos = stop;
    return length % 8 === 0 ? length / 8 : -1;
  }

  /** The point record, its times, bits and attribute set cleared for the next point. */
  #beginPoint(): PointRecord {
    const p = this.#point;
    p.startHi = p.startLo = p.timeHi = p.timeLo = 0;
    p.bits = 0;
    this.#set.begin();
    return p;
  }

  /**
   * One attribute entry, gathered as `AttributeTable.appendEntry` stores it. Not validated:
   * the visitor takes only sets it already holds, byte for byte, and those were validated
   * when the decoder first read them.
   */
  #attribute(end: number): void {
    const reader = this.#reader;
    const lengthStart = reader.pos;
    const length = reader.buf[lengthStart];
    const stop =
      length < 0x80 && lengthStart + 1 + length <= end
        ? lengthStart + 1 + length
        : reader.delimited(end);
    reader.pos = stop;
    // The byte before the length is the tag's last: the whole tag when it is one byte, as
    // encoders write field 7 or 9 (only that byte goes into the set, retagged).
    this.#set.add(lengthStart - 1, stop);
  }

  #endSet(): void {
    const p = this.#point;
    const set = this.#set;
    p.set = set.seal(this.#inPlace);
    p.setStart = set.start;
    p.setEnd = set.end;
  }

  #string(end: number): string {
    const reader = this.#reader;
    const stop = reader.delimited(end);
    const text = readUtf8(reader.buf, reader.pos, stop);
    reader.pos = stop;
    return text;
  }
}
