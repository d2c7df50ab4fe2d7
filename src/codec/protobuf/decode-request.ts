import { copyOf } from '../../model/copy-bytes.js';
import { DecodeError } from '../../model/errors.js';
import { type KeyValue, MetricBatch, MetricType, PointBits } from '../../model/index.js';
import { readKeyValue, validateKeyValue } from '../../model/key-value-bytes.js';
import { readUtf8 } from '../../model/utf8.js';
import { copy8 } from '../../model/wire.js';
import { WireReader } from '../../model/wire-reader.js';
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
 * OTLP `ExportMetricsServiceRequest` protobuf → `MetricBatch` (appended to `into` when given,
 * e.g. a cleared batch a receiver recycles, so steady traffic allocates no columns).
 *
 * Points go straight into the batch's columns: fixed64 and double fields are copied as
 * 8 raw bytes, attribute `KeyValue`s are validated and copied into the batch's attribute
 * arena (interned by their bytes), so a point costs no JavaScript object unless it carries
 * exemplars. Unknown fields are skipped; known fields with the wrong wire type, truncated
 * or overlong lengths and malformed varints throw a `DecodeError` with the byte offset.
 */
export function decodeMetricsRequest(bytes: Uint8Array, into?: MetricBatch): MetricBatch {
  // Sized from the request: a point takes ~40-400 bytes on the wire, attribute sets at most
  // what the request holds; growing by doubling instead costs copies and collections.
  const batch =
    into ?? new MetricBatch({ points: bytes.length >> 7, attributeBytes: bytes.length >> 1 });
  return RequestDecoder.decode(bytes, batch);
}

/** Bit masks of known field numbers, to tell "unknown, skip" from "known, wrong wire type". */
const fields = (...numbers: number[]) => numbers.reduce((mask, n) => mask | (1 << n), 0);
const REQUEST_FIELDS = fields(1);
const RESOURCE_METRICS_FIELDS = fields(1, 2, 3);
const RESOURCE_FIELDS = fields(1, 2);
const SCOPE_METRICS_FIELDS = fields(1, 2, 3);
const SCOPE_FIELDS = fields(1, 2, 3, 4);
const METRIC_FIELDS = fields(1, 2, 3, 5, 7, 9, 10, 11, 12);
const DATA_FIELDS = fields(1, 2, 3);
const NUMBER_POINT_FIELDS = fields(2, 3, 4, 5, 6, 7, 8);
const HISTOGRAM_POINT_FIELDS = fields(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
const EXPONENTIAL_POINT_FIELDS = fields(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
const BUCKETS_FIELDS = fields(1, 2);
const SUMMARY_POINT_FIELDS = fields(2, 3, 4, 5, 6, 7, 8);
const QUANTILE_FIELDS = fields(1, 2);
const EXEMPLAR_FIELDS = fields(2, 3, 4, 5, 6, 7);

const scratch = new BigUint64Array(1);
const scratchWords = new Uint32Array(scratch.buffer);
const scratchSigned = new BigInt64Array(scratch.buffer);

const NOTHING = new Uint8Array(0);
const NO_BATCH = new MetricBatch({ points: 1, attributeBytes: 1 });

/**
 * One request's decoding state. There is one instance, reset for each request: V8 drops an
 * object layout (a "map") that a full collection finds no object of, and with it all
 * optimized code built on it ("deoptimization, reason: weak objects"). A decoder made per
 * call had no object alive between requests, so every full collection threw the optimized
 * decoder away and the next requests ran on slower code until V8 compiled it again
 * (measured: 120k points right after a full GC, 2.1 µs per point against 1.5).
 */
class RequestDecoder {
  static readonly #shared = new RequestDecoder();
  static #busy = false;

  /** Decodes `bytes` into `batch` (with a fresh decoder if the shared one is in use). */
  static decode(bytes: Uint8Array, batch: MetricBatch): MetricBatch {
    if (RequestDecoder.#busy) return new RequestDecoder().#prepare(bytes, batch).decode();
    RequestDecoder.#busy = true;
    const decoder = RequestDecoder.#shared.#prepare(bytes, batch);
    try {
      return decoder.decode();
    } finally {
      decoder.#prepare(NOTHING, NO_BATCH);
      RequestDecoder.#busy = false;
    }
  }

  readonly reader = new WireReader(NOTHING);
  buf: Uint8Array = NOTHING;
  /** All of `buf`, for four-byte copies. */
  view: DataView = this.reader.view;
  batch: MetricBatch = NO_BATCH;

  #prepare(bytes: Uint8Array, batch: MetricBatch): this {
    this.buf = bytes;
    this.view = this.reader.reset(bytes).view;
    this.batch = batch;
    return this;
  }

  decode(): MetricBatch {
    const { reader } = this;
    const end = this.buf.length;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === RequestField.ResourceMetrics) this.resourceMetrics(reader.delimited(end));
      else this.unknown(tag, end, REQUEST_FIELDS, 'ExportMetricsServiceRequest');
    }
    return this.batch;
  }

  resourceMetrics(end: number): void {
    const { reader, batch } = this;
    const r = batch.addResource();
    const resource = batch.resources[r];
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === ResourceMetricsField.Resource) {
        const stop = reader.delimited(end);
        while (reader.pos < stop) {
          const t = reader.varint32(stop);
          if (t === ResourceField.Attributes) resource.attributes.push(this.keyValue(stop));
          else if (t === ResourceField.DroppedAttributesCount)
            resource.droppedAttributesCount = reader.varint32(stop);
          else this.unknown(t, stop, RESOURCE_FIELDS, 'Resource');
        }
      } else if (tag === ResourceMetricsField.ScopeMetrics)
        this.scopeMetrics(r, reader.delimited(end));
      else if (tag === ResourceMetricsField.SchemaUrl) resource.schemaUrl = this.string(end);
      else this.unknown(tag, end, RESOURCE_METRICS_FIELDS, 'ResourceMetrics');
    }
  }

  scopeMetrics(r: number, end: number): void {
    const { reader, batch } = this;
    const s = batch.addScope(r);
    const scope = batch.scopes[s];
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === ScopeMetricsField.Scope) {
        const stop = reader.delimited(end);
        while (reader.pos < stop) {
          const t = reader.varint32(stop);
          if (t === ScopeField.Name) scope.name = this.string(stop);
          else if (t === ScopeField.Version) scope.version = this.string(stop);
          else if (t === ScopeField.Attributes) scope.attributes.push(this.keyValue(stop));
          else if (t === ScopeField.DroppedAttributesCount)
            scope.droppedAttributesCount = reader.varint32(stop);
          else this.unknown(t, stop, SCOPE_FIELDS, 'InstrumentationScope');
        }
      } else if (tag === ScopeMetricsField.Metrics) this.metric(s, reader.delimited(end));
      else if (tag === ScopeMetricsField.SchemaUrl) scope.schemaUrl = this.string(end);
      else this.unknown(tag, end, SCOPE_METRICS_FIELDS, 'ScopeMetrics');
    }
  }

  metric(s: number, end: number): void {
    const { reader, batch } = this;
    const m = batch.addMetric(s, { name: '', type: MetricType.Empty });
    const metric = batch.metrics[m];
    while (reader.pos < end) {
      const at = reader.pos;
      const tag = reader.varint32(end);
      const type = metricDataType(tag);
      if (type !== MetricType.Empty) {
        if (metric.type !== MetricType.Empty && metric.type !== type) {
          throw new DecodeError(at, 'one data field per Metric', `"${metric.name}" has two kinds`);
        }
        metric.type = type;
        this.data(m, type, reader.delimited(end));
      } else if (tag === MetricField.Name) metric.name = this.string(end);
      else if (tag === MetricField.Description) metric.description = this.string(end);
      else if (tag === MetricField.Unit) metric.unit = this.string(end);
      else if (tag === MetricField.Metadata) metric.metadata.push(this.keyValue(end));
      else this.unknown(tag, end, METRIC_FIELDS, 'Metric');
    }
  }

  data(m: number, type: MetricType, end: number): void {
    const { reader, batch } = this;
    const metric = batch.metrics[m];
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === DataField.Points) {
        const stop = reader.delimited(end);
        if (type === MetricType.Gauge || type === MetricType.Sum) this.numberPoint(m, stop);
        else if (type === MetricType.Histogram) this.histogramPoint(m, stop);
        else if (type === MetricType.ExponentialHistogram) this.exponentialPoint(m, stop);
        else this.summaryPoint(m, stop);
      } else if (
        tag === DataField.AggregationTemporality &&
        type !== MetricType.Gauge &&
        type !== MetricType.Summary
      ) {
        const temporality = reader.varint32(end);
        metric.temporality = (temporality <= 2 ? temporality : 0) as 0 | 1 | 2;
      } else if (tag === DataField.IsMonotonic && type === MetricType.Sum) {
        metric.monotonic = reader.varint32(end) !== 0;
      } else this.unknown(tag, end, DATA_FIELDS, 'metric data');
    }
  }

  numberPoint(m: number, end: number): void {
    const { reader, batch, buf } = this;
    const points = batch.points;
    const i = batch.appendPointRow(0);
    batch.attributes.beginSet();
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      switch (tag) {
        case PointField.StartTime:
          this.copy8(points.startTime.u8, i, end);
          break;
        case PointField.Time:
          this.copy8(points.time.u8, i, end);
          break;
        case NumberPointField.AsDouble:
          this.copy8(points.value.u8, i, end);
          points.bits[i] = PointBits.HasValue;
          break;
        case NumberPointField.AsInt:
          this.copy8(points.value.u8, i, end);
          points.bits[i] = PointBits.HasValue | PointBits.Int;
          break;
        case NumberPointField.Exemplars:
          this.exemplar(end);
          break;
        case NumberPointField.Attributes:
          this.attribute(buf, end);
          break;
        case NumberPointField.Flags:
          points.flags[i] = reader.varint32(end);
          break;
        default:
          this.unknown(tag, end, NUMBER_POINT_FIELDS, 'NumberDataPoint');
      }
    }
    this.endPoint(m, i);
  }

  histogramPoint(m: number, end: number): void {
    const { reader, batch, buf } = this;
    const points = batch.points;
    const d = batch.distributions;
    const i = batch.appendPointRow(0);
    const row = batch.appendDistributionRow(i);
    let counts = 0;
    let bounds = 0;
    batch.attributes.beginSet();
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      switch (tag) {
        case HistogramPointField.BucketCounts:
          counts += this.packed64(end, 'bucketCounts', counts);
          break;
        case HistogramPointField.BucketCountUnpacked:
          counts += this.single64(end, 'bucketCounts', counts);
          break;
        case HistogramPointField.ExplicitBounds:
          bounds += this.packed64(end, 'floats', bounds);
          break;
        case HistogramPointField.ExplicitBoundUnpacked:
          bounds += this.single64(end, 'floats', bounds);
          break;
        case HistogramPointField.Exemplars:
          this.exemplar(end);
          break;
        case HistogramPointField.Attributes:
          this.attribute(buf, end);
          break;
        case HistogramPointField.Flags:
          points.flags[i] = reader.varint32(end);
          break;
        case HistogramPointField.Min:
          d.min[row] = reader.double(end);
          points.bits[i] |= PointBits.HasMin;
          break;
        case HistogramPointField.Max:
          d.max[row] = reader.double(end);
          points.bits[i] |= PointBits.HasMax;
          break;
        default:
          if (!this.distributionField(tag, i, row, end)) {
            this.unknown(tag, end, HISTOGRAM_POINT_FIELDS, 'HistogramDataPoint');
          }
      }
    }
    d.positiveStart[row] = d.bucketCountsUsed;
    d.positiveLength[row] = counts;
    d.bucketCountsUsed += counts;
    d.commitBounds(row, bounds);
    this.endPoint(m, i);
  }

  exponentialPoint(m: number, end: number): void {
    const { reader, batch, buf } = this;
    const points = batch.points;
    const d = batch.distributions;
    const i = batch.appendPointRow(0);
    const row = batch.appendDistributionRow(i);
    batch.attributes.beginSet();
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      switch (tag) {
        case ExponentialPointField.Attributes:
          this.attribute(buf, end);
          break;
        case ExponentialPointField.Scale:
          d.scale[row] = unzigzag32(reader.varint32(end));
          break;
        case ExponentialPointField.ZeroCount:
          this.copy8(d.zeroCount.u8, row, end);
          break;
        case ExponentialPointField.Positive:
          this.buckets(row, true, reader.delimited(end));
          points.bits[i] |= PointBits.HasPositive;
          break;
        case ExponentialPointField.Negative:
          this.buckets(row, false, reader.delimited(end));
          points.bits[i] |= PointBits.HasNegative;
          break;
        case ExponentialPointField.Flags:
          points.flags[i] = reader.varint32(end);
          break;
        case ExponentialPointField.Exemplars:
          this.exemplar(end);
          break;
        case ExponentialPointField.Min:
          d.min[row] = reader.double(end);
          points.bits[i] |= PointBits.HasMin;
          break;
        case ExponentialPointField.Max:
          d.max[row] = reader.double(end);
          points.bits[i] |= PointBits.HasMax;
          break;
        case ExponentialPointField.ZeroThreshold:
          d.zeroThreshold[row] = reader.double(end);
          break;
        default:
          if (!this.distributionField(tag, i, row, end)) {
            this.unknown(tag, end, EXPONENTIAL_POINT_FIELDS, 'ExponentialHistogramDataPoint');
          }
      }
    }
    this.endPoint(m, i);
  }

  buckets(row: number, positive: boolean, end: number): void {
    const { reader, batch } = this;
    const d = batch.distributions;
    let offset = 0;
    let count = 0;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag === BucketsField.Offset) offset = unzigzag32(reader.varint32(end));
      else if (tag === BucketsField.BucketCounts) {
        const stop = reader.delimited(end);
        while (reader.pos < stop) this.pushVarintCount(count++, stop);
      } else if (tag === BucketsField.BucketCountUnpacked) this.pushVarintCount(count++, end);
      else this.unknown(tag, end, BUCKETS_FIELDS, 'Buckets');
    }
    const start = d.bucketCountsUsed;
    d.bucketCountsUsed += count;
    if (positive) {
      d.positiveOffset[row] = offset;
      d.positiveStart[row] = start;
      d.positiveLength[row] = count;
    } else {
      d.negativeOffset[row] = offset;
      d.negativeStart[row] = start;
      d.negativeLength[row] = count;
    }
  }

  pushVarintCount(k: number, end: number): void {
    const { reader } = this;
    const d = this.batch.distributions;
    reader.varint64(end);
    d.reserveBucketCounts(k + 1);
    const words = d.bucketCounts.u32;
    const at = d.bucketCountsUsed + k;
    words[2 * at] = reader.lo;
    words[2 * at + 1] = reader.hi;
  }

  summaryPoint(m: number, end: number): void {
    const { reader, batch, buf } = this;
    const points = batch.points;
    const d = batch.distributions;
    const i = batch.appendPointRow(0);
    const row = batch.appendDistributionRow(i);
    // A summary's sum is not optional: mark it present, as the builder does.
    points.bits[i] = PointBits.HasSum;
    let floats = 0;
    batch.attributes.beginSet();
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      switch (tag) {
        case SummaryPointField.QuantileValues: {
          const stop = reader.delimited(end);
          let quantile = 0;
          let value = 0;
          while (reader.pos < stop) {
            const t = reader.varint32(stop);
            if (t === QuantileField.Quantile) quantile = reader.double(stop);
            else if (t === QuantileField.Value) value = reader.double(stop);
            else this.unknown(t, stop, QUANTILE_FIELDS, 'ValueAtQuantile');
          }
          d.reserveFloats(floats + 2);
          d.floats[d.floatsUsed + floats++] = quantile;
          d.floats[d.floatsUsed + floats++] = value;
          break;
        }
        case SummaryPointField.Attributes:
          this.attribute(buf, end);
          break;
        case SummaryPointField.Flags:
          points.flags[i] = reader.varint32(end);
          break;
        default:
          if (!this.distributionField(tag, i, row, end)) {
            this.unknown(tag, end, SUMMARY_POINT_FIELDS, 'SummaryDataPoint');
          }
      }
    }
    d.commitBounds(row, floats);
    this.endPoint(m, i);
  }

  /**
   * Fields 2 to 5 mean the same in histogram, exponential histogram and summary points:
   * start time, time, count and sum (optional except in summaries, whose bit is preset).
   */
  distributionField(tag: number, i: number, row: number, end: number): boolean {
    const points = this.batch.points;
    switch (tag) {
      case PointField.StartTime:
        this.copy8(points.startTime.u8, i, end);
        return true;
      case PointField.Time:
        this.copy8(points.time.u8, i, end);
        return true;
      case DistributionField.Count:
        this.copy8(this.batch.distributions.total.u8, row, end);
        return true;
      case DistributionField.Sum:
        this.copy8(points.value.u8, i, end);
        points.bits[i] |= PointBits.HasSum;
        return true;
      default:
        return false;
    }
  }

  endPoint(m: number, i: number): void {
    const batch = this.batch;
    batch.points.series[i] = batch.seriesOf(m, batch.attributes.endSet());
    batch.points.exemplarEnd[i] = batch.exemplars.length;
  }

  /** Validates one attribute `KeyValue` and appends it to the set being assembled. */
  attribute(buf: Uint8Array, end: number): void {
    const { reader } = this;
    const lengthStart = reader.pos;
    const stop = reader.delimited(end);
    validateKeyValue(reader, stop, 0);
    this.batch.attributes.appendEntry(buf, this.view, lengthStart, stop);
  }

  exemplar(end: number): void {
    const { reader } = this;
    const stop = reader.delimited(end);
    const filteredAttributes: KeyValue[] = [];
    let time = 0n;
    let value: number | bigint | undefined;
    let spanId: Uint8Array = new Uint8Array(0);
    let traceId: Uint8Array = new Uint8Array(0);
    while (reader.pos < stop) {
      const tag = reader.varint32(stop);
      switch (tag) {
        case ExemplarField.Time:
          reader.fixed64(stop);
          scratchWords[0] = reader.lo;
          scratchWords[1] = reader.hi;
          time = scratch[0];
          break;
        case ExemplarField.AsDouble:
          value = reader.double(stop);
          break;
        case ExemplarField.SpanId:
          spanId = this.bytes(stop);
          break;
        case ExemplarField.TraceId:
          traceId = this.bytes(stop);
          break;
        case ExemplarField.AsInt:
          reader.fixed64(stop);
          scratchWords[0] = reader.lo;
          scratchWords[1] = reader.hi;
          value = scratchSigned[0];
          break;
        case ExemplarField.FilteredAttributes:
          filteredAttributes.push(this.keyValue(stop));
          break;
        default:
          this.unknown(tag, stop, EXEMPLAR_FIELDS, 'Exemplar');
      }
    }
    this.batch.exemplars.push({ filteredAttributes, time, value, spanId, traceId });
  }

  /** Appends a packed run of 8-byte values to the flat column; returns how many. */
  packed64(end: number, column: 'bucketCounts' | 'floats', already: number): number {
    const { reader } = this;
    const at = reader.pos;
    const stop = reader.delimited(end);
    const length = stop - reader.pos;
    if (length % 8 !== 0) {
      throw new DecodeError(
        at,
        'a packed run of 8-byte values',
        `length ${length} is not a multiple of 8`,
      );
    }
    const n = length / 8;
    const d = this.batch.distributions;
    const view = this.view;
    // Word by word: a histogram point's runs are short, and `subarray()` made an object for
    // each of them.
    if (column === 'bucketCounts') {
      d.reserveBucketCounts(already + n);
      const words = d.bucketCounts.u32;
      let w = 2 * (d.bucketCountsUsed + already);
      for (let k = reader.pos; k < stop; k += 8, w += 2) {
        words[w] = view.getUint32(k, true);
        words[w + 1] = view.getUint32(k + 4, true);
      }
    } else {
      d.reserveFloats(already + n);
      const floats = d.floats;
      let f = d.floatsUsed + already;
      for (let k = reader.pos; k < stop; k += 8, f++) floats[f] = view.getFloat64(k, true);
    }
    reader.pos = stop;
    return n;
  }

  /** The unpacked form of a repeated 8-byte field: one value. */
  single64(end: number, column: 'bucketCounts' | 'floats', already: number): number {
    const { reader, buf } = this;
    if (reader.pos + 8 > end)
      throw new DecodeError(reader.pos, 'an 8-byte value', 'message ends early');
    const d = this.batch.distributions;
    const from = buf.subarray(reader.pos, reader.pos + 8);
    if (column === 'bucketCounts') {
      d.reserveBucketCounts(already + 1);
      d.bucketCounts.u8.set(from, (d.bucketCountsUsed + already) * 8);
    } else {
      d.reserveFloats(already + 1);
      new Uint8Array(d.floats.buffer).set(from, (d.floatsUsed + already) * 8);
    }
    reader.pos += 8;
    return 1;
  }

  copy8(column: Uint8Array, index: number, end: number): void {
    const { reader } = this;
    const pos = reader.pos;
    if (pos + 8 > end)
      throw new DecodeError(pos, 'an 8-byte fixed64 or double', 'message ends early');
    copy8(this.buf, pos, column, index * 8);
    reader.pos = pos + 8;
  }

  string(end: number): string {
    const { reader } = this;
    const stop = reader.delimited(end);
    const text = readUtf8(this.buf, reader.pos, stop);
    reader.pos = stop;
    return text;
  }

  bytes(end: number): Uint8Array {
    const { reader } = this;
    const stop = reader.delimited(end);
    const out = copyOf(this.buf, reader.pos, stop);
    reader.pos = stop;
    return out;
  }

  keyValue(end: number): KeyValue {
    const stop = this.reader.delimited(end);
    return readKeyValue(this.reader, stop, 0);
  }

  unknown(tag: number, end: number, known: number, message: string): void {
    const field = tag >>> 3;
    if (field === 0)
      throw new DecodeError(this.reader.pos, `a field tag in ${message}`, 'field number 0');
    if (field < 31 && (known & (1 << field)) !== 0) {
      throw new DecodeError(
        this.reader.pos,
        `${message} field ${field} with its declared wire type`,
        `got wire type ${tag & 7}`,
      );
    }
    this.reader.skip(tag & 7, end);
  }
}

function unzigzag32(n: number): number {
  return (n >>> 1) ^ -(n & 1);
}
