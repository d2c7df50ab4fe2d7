import type { HrTime } from '@opentelemetry/api';
import type {
  DataPoint,
  ExponentialHistogram,
  Histogram,
  MetricData,
  ResourceMetrics,
  ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { toKeyValues } from '../../model/any-value.js';
import { hashText } from '../../model/attribute-table.js';
import { MetricType } from '../../model/index.js';
import {
  ATTRIBUTE_ENTRY_TAG,
  encodeKeyValues,
  retagKeyValues,
} from '../../model/key-value-bytes.js';
import { OneAtATime } from '../../model/one-at-a-time.js';
import { encodeUtf8 } from '../../model/utf8.js';
import {
  highBits,
  lowBits,
  varint64Size,
  varintSize,
  writeVarint,
  writeVarint64,
  zigzag32,
} from '../../model/wire.js';
import type { EncodedRequest } from '../protobuf/encoded-request.js';
import {
  BucketsField,
  bucketsSize,
  DataField,
  DistributionField,
  ExponentialPointField,
  HistogramPointField,
  METRIC_DATA_TAG,
  MetricField,
  NumberPointField,
  PointField,
  RequestField,
  ResourceField,
  ResourceMetricsField,
  ScopeField,
  ScopeMetricsField,
} from '../protobuf/otlp-fields.js';
import { SdkAttributeCache } from './attribute-cache.js';
import { writeHrTime } from './hr-time.js';
import {
  instrumentKey,
  metricType,
  otlpTemporality,
  SDK_SUM,
  STEP_POINTS,
  VALUE_TYPE_INT,
  yieldEvery,
} from './sdk-metric-data.js';

export interface EncodeOptions {
  /** Most points per request. */
  maxPoints: number;
  /** Most bytes per request (a point larger than this alone gets a request of its own). */
  maxBytes: number;
  /**
   * `undefined` to go on, or a promise to wait for first (a shared `EventLoopBudget`'s
   * `take`); asked every `STEP_POINTS` points. Default: yield after every 8 ms of work.
   */
  pace?: () => Promise<void> | undefined;
  onRequest: (request: EncodedRequest) => void | Promise<void>;
  /**
   * Memory for a request of up to `size` bytes (e.g. from a pool of buffers the sender is
   * done with); the encoder owns it until it hands the request to `onRequest`.
   */
  buffer?: (size: number) => Uint8Array;
}

/** Room a wrapper's length takes: always five bytes, so it can be written after its body. */
const WRAPPER_LENGTH = 5;

const f64 = new Float64Array(1);
const f64Words = new Uint32Array(f64.buffer);
const NO_VIEW = new DataView(new ArrayBuffer(0));

/**
 * `size` bytes for a request, not zero-filled (the encoder writes every byte it sends), as a
 * plain `Uint8Array` like the ones a pool hands back: a `Buffer` is a subclass with its own
 * hidden class, and the writer's code, optimized for one, was thrown away and recompiled
 * on every export that met the other (a quarter of the CPU of a 20k-point export).
 */
export function requestMemory(size: number): Uint8Array {
  return new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size);
}

/** Per instrument and export: what every point of it shares. */
interface MetricHeader {
  /** `Metric` fields before the data (name, description, unit). */
  fields: Uint8Array;
  type: MetricType;
  /** Fields after the points in the data message (temporality, monotonic). */
  trailer: Uint8Array;
  /** Mixed into the attribute hash for the series keys; `undefined` for delta points. */
  seriesSeed: number | undefined;
  int: boolean;
}

/**
 * SDK `ResourceMetrics` → OTLP protobuf requests, straight from the SDK's data points
 * (same mapping as `ResourceMetricsConverter` + `encodeMetricsRequest`, checked by tests),
 * cut to the request limits as it goes and in slices that yield to the event loop.
 *
 * Nothing is built per point: attribute sets are the cached bytes of the SDK's attributes
 * objects (`SdkAttributeCache`), times and values are written as they are read, and a
 * histogram's bounds are encoded once per instrument. A point's length is known before it
 * is written; the few wrappers around the points (resource, scope, metric, data) get their
 * lengths afterwards, in five-byte varints (a valid, if not the shortest, encoding that
 * every protobuf parser reads) so the points never move.
 */
export class SdkRequestEncoder {
  #attributes = new SdkAttributeCache();
  #out: Uint8Array = new Uint8Array(0);
  #view: DataView<ArrayBufferLike> = NO_VIEW;
  #pos = 0;
  #points = 0;
  #keys = new Int32Array(1024);
  #keyCount = 0;
  /** Where the open wrappers' lengths go (-1: not open). */
  #resourceAt = -1;
  #scopeAt = -1;
  #metricAt = -1;
  #dataAt = -1;
  #options!: Required<Omit<EncodeOptions, 'pace'>> & Pick<EncodeOptions, 'pace'>;
  #resourceInfo: Uint8Array = new Uint8Array(0);
  #resourceSchemaUrl: Uint8Array = new Uint8Array(0);
  #scopeInfo: Uint8Array = new Uint8Array(0);
  #scopeSchemaUrl: Uint8Array = new Uint8Array(0);
  #metric: MetricHeader | undefined;
  #collection = 0;
  /** Per instrument, its points' start times by position (see `StartTimes`). */
  #startTimes = new Map<string, StartTimes>();
  #starts: StartTimes = newStartTimes();
  /** The point being written: its start time as u64 halves. */
  #startLo = 0;
  #startHi = 0;
  /**
   * The SDK stamps a collection's points with one end-time array: the last one seen, and its
   * conversion.
   */
  #endArray: HrTime | undefined;
  #endLo = 0;
  #endHi = 0;
  /** A histogram instrument's bounds, packed once per export. */
  #bounds: readonly number[] | undefined;
  #boundsBytes: DataView = NO_VIEW;

  /** `encode` calls: a call waits for the one before it. */
  readonly #calls = new OneAtATime();

  /**
   * Encodes `resourceMetrics` into requests handed to `options.onRequest` one by one (the
   * next is written after the previous one's promise resolves). Calls run one at a time,
   * in call order: the encoder keeps the request being written in its fields.
   */
  encode(resourceMetrics: ResourceMetrics, options: EncodeOptions): Promise<void> {
    return this.#calls.run(() => this.#encode(resourceMetrics, options));
  }

  async #encode(resourceMetrics: ResourceMetrics, options: EncodeOptions): Promise<void> {
    this.#collection = nextCollection++;
    this.#options = {
      ...options,
      buffer: options.buffer ?? requestMemory,
    };
    const pace = options.pace ?? yieldEvery(8);
    this.#resourceInfo = resourceInfo(resourceMetrics);
    this.#resourceSchemaUrl = stringField(
      ResourceMetricsField.SchemaUrl,
      resourceMetrics.resource.schemaUrl ?? '',
    );
    this.#begin();
    for (const scopeMetrics of resourceMetrics.scopeMetrics) {
      this.#scopeInfo = scopeInfo(scopeMetrics);
      this.#scopeSchemaUrl = stringField(
        ScopeMetricsField.SchemaUrl,
        scopeMetrics.scope.schemaUrl ?? '',
      );
      for (const metric of scopeMetrics.metrics) {
        this.#metric = metricHeader(metric);
        this.#bounds = undefined;
        const key = instrumentKey(scopeMetrics, metric);
        const n = metric.dataPoints.length;
        this.#starts = this.#startTimesOf(key, n);
        if (n === 0) this.#openMetric();
        for (let start = 0; start < n; ) {
          const end = Math.min(n, start + STEP_POINTS);
          const entries = this.#attributes.resolve(key, metric.dataPoints, start, end);
          for (let k = start; k < end; k++) {
            const dp = metric.dataPoints[k];
            if (!this.#point(dp, k, entries[k])) {
              // The request is full: send it, and the point starts the next one.
              await this.#finish();
              this.#begin();
              this.#point(dp, k, entries[k]);
            }
          }
          start = end;
          const wait = pace();
          if (wait) await wait;
        }
        this.#closeMetric();
      }
      this.#closeScope();
    }
    if (this.#points > 0) await this.#finish();
    this.#metric = undefined;
    this.#out = new Uint8Array(0);
    this.#view = NO_VIEW;
  }

  // ---- requests and wrappers ----------------------------------------------------------

  /** Starts a request; its memory is taken when it gets its first byte. */
  #begin(): void {
    // The previous request belongs to the engine now: keep no reference to its memory.
    this.#out = new Uint8Array(0);
    this.#view = NO_VIEW;
    this.#pos = 0;
    this.#points = 0;
    this.#keyCount = 0;
    this.#resourceAt = this.#scopeAt = this.#metricAt = this.#dataAt = -1;
  }

  /** Room for `extra` more bytes: a buffer of `maxBytes` at first, larger only for big points. */
  #ensure(extra: number): void {
    const need = this.#pos + extra;
    if (need <= this.#out.length) return;
    const fresh = this.#options.buffer(Math.max(this.#options.maxBytes, need));
    const out = fresh.length >= need ? fresh : requestMemory(need);
    out.set(this.#out.subarray(0, this.#pos));
    this.#out = out;
    this.#view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  }

  /**
   * What a point adds besides itself: opening the wrappers it needs that are not open yet,
   * and closing every wrapper after it.
   */
  #framingBytes(): number {
    const metric = this.#metric!;
    let bytes =
      metric.trailer.length + this.#scopeSchemaUrl.length + this.#resourceSchemaUrl.length;
    if (this.#metricAt === -1) bytes += 2 * (1 + WRAPPER_LENGTH) + metric.fields.length;
    if (this.#scopeAt === -1) bytes += 1 + WRAPPER_LENGTH + this.#scopeInfo.length;
    if (this.#resourceAt === -1) bytes += 1 + WRAPPER_LENGTH + this.#resourceInfo.length;
    return bytes;
  }

  async #finish(): Promise<void> {
    this.#closeMetric();
    this.#closeScope();
    this.#closeResource();
    const keys = this.#keyCount > 0 ? this.#keys.slice(0, this.#keyCount) : undefined;
    const request: EncodedRequest = {
      bytes: this.#out.subarray(0, this.#pos),
      points: this.#points,
      seriesKeys: keys,
      collection: this.#collection,
    };
    await this.#options.onRequest(request);
  }

  #openResource(): void {
    if (this.#resourceAt !== -1) return;
    this.#resourceAt = this.#openWrapper(RequestField.ResourceMetrics);
    this.#write(this.#resourceInfo);
  }

  #closeResource(): void {
    if (this.#resourceAt === -1) return;
    this.#write(this.#resourceSchemaUrl);
    this.#closeWrapper(this.#resourceAt);
    this.#resourceAt = -1;
  }

  #openScope(): void {
    if (this.#scopeAt !== -1) return;
    this.#openResource();
    this.#scopeAt = this.#openWrapper(ResourceMetricsField.ScopeMetrics);
    this.#write(this.#scopeInfo);
  }

  #closeScope(): void {
    if (this.#scopeAt === -1) return;
    this.#write(this.#scopeSchemaUrl);
    this.#closeWrapper(this.#scopeAt);
    this.#scopeAt = -1;
  }

  #openMetric(): void {
    if (this.#metricAt !== -1) return;
    this.#openScope();
    const metric = this.#metric!;
    this.#metricAt = this.#openWrapper(ScopeMetricsField.Metrics);
    this.#write(metric.fields);
    this.#dataAt = this.#openWrapper(METRIC_DATA_TAG[metric.type]);
  }

  #closeMetric(): void {
    if (this.#metricAt === -1) return;
    this.#write(this.#metric!.trailer);
    this.#closeWrapper(this.#dataAt);
    this.#closeWrapper(this.#metricAt);
    this.#metricAt = this.#dataAt = -1;
  }

  #openWrapper(tag: number): number {
    this.#ensure(1 + WRAPPER_LENGTH);
    this.#out[this.#pos++] = tag;
    const at = this.#pos;
    this.#pos += WRAPPER_LENGTH;
    return at;
  }

  /** Writes the length of the wrapper whose body runs from after `at` to here. */
  #closeWrapper(at: number): void {
    let length = this.#pos - at - WRAPPER_LENGTH;
    const out = this.#out;
    for (let k = 0; k < WRAPPER_LENGTH - 1; k++) {
      out[at + k] = (length & 0x7f) | 0x80;
      length >>>= 7;
    }
    out[at + WRAPPER_LENGTH - 1] = length;
  }

  #write(bytes: Uint8Array): void {
    this.#ensure(bytes.length);
    this.#out.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  // ---- points -------------------------------------------------------------------------

  /**
   * Writes one point, opening the wrappers it needs; returns false, writing nothing, when
   * the request is full (by points or bytes). A request's first point always fits. `k` is
   * its position in the instrument, `entry` its attribute set's in `#attributes`.
   */
  #point(dp: DataPoint<unknown>, k: number, entry: number): boolean {
    const header = this.#metric!;
    const type = header.type;
    let size: number;
    if (type === MetricType.Gauge || type === MetricType.Sum) {
      size = 9 + this.#resolveTimes(dp, k);
    } else if (type === MetricType.Histogram) {
      size = this.#resolveTimes(dp, k) + this.#histogramSize(dp as DataPoint<Histogram>);
    } else {
      size = this.#resolveTimes(dp, k) + exponentialSize(dp as DataPoint<ExponentialHistogram>);
    }
    size += this.#attributes.lengths[entry];
    const total = 1 + varintSize(size) + size;
    const framing = this.#framingBytes();
    if (
      this.#points > 0 &&
      (this.#points === this.#options.maxPoints ||
        this.#pos + total + framing > this.#options.maxBytes)
    ) {
      return false;
    }
    this.#ensure(total + framing);
    this.#openMetric();
    const out = this.#out;
    out[this.#pos++] = DataField.Points;
    this.#pos = writeVarint(out, this.#pos, size);
    if (type === MetricType.Gauge || type === MetricType.Sum) {
      this.#times();
      this.#numberValue((dp as DataPoint<number>).value, header.int);
      this.#attributesField(entry, NumberPointField.Attributes);
    } else if (type === MetricType.Histogram) {
      this.#histogram(dp as DataPoint<Histogram>, entry);
    } else {
      this.#exponential(dp as DataPoint<ExponentialHistogram>, entry);
    }
    this.#points++;
    if (header.seriesSeed !== undefined) {
      this.#key(header.seriesSeed, this.#attributes.hashes[entry]);
    }
    return true;
  }

  #key(seed: number, hash: number): void {
    if (this.#keyCount === this.#keys.length) {
      const keys = new Int32Array(this.#keys.length * 2);
      keys.set(this.#keys);
      this.#keys = keys;
    }
    this.#keys[this.#keyCount++] = Math.imul(hash ^ seed, 0x9e3779b1) ^ seed;
  }

  /**
   * Reads point `k`'s times into `#startLo`... and returns their fields' size. A series keeps
   * its start-time array from one collection to the next, so a start time is converted only
   * when the array at its position changed — found by comparing references, without reading
   * the array (a cache miss per point in the application's heap).
   */
  #resolveTimes(dp: DataPoint<unknown>, k: number): number {
    const starts = this.#starts;
    const start = dp.startTime;
    if (starts.arrays[k] !== start) {
      starts.arrays[k] = start;
      writeHrTime(starts.words, k, start);
    }
    this.#startLo = starts.words[2 * k];
    this.#startHi = starts.words[2 * k + 1];
    const end = dp.endTime;
    if (end !== this.#endArray) {
      this.#endArray = end;
      writeHrTime(timeWords, 0, end);
      this.#endLo = timeWords[0];
      this.#endHi = timeWords[1];
    }
    return (
      (this.#startLo === 0 && this.#startHi === 0 ? 0 : 9) +
      (this.#endLo === 0 && this.#endHi === 0 ? 0 : 9)
    );
  }

  /** The times `#resolveTimes` read, as fixed64 fields (proto3: omitted when zero). */
  #times(): void {
    if (this.#startLo !== 0 || this.#startHi !== 0) {
      this.#out[this.#pos++] = PointField.StartTime;
      this.#words(this.#startLo, this.#startHi);
    }
    if (this.#endLo !== 0 || this.#endHi !== 0) {
      this.#out[this.#pos++] = PointField.Time;
      this.#words(this.#endLo, this.#endHi);
    }
  }

  #startTimesOf(instrument: string, points: number): StartTimes {
    let starts = this.#startTimes.get(instrument);
    if (starts === undefined) {
      starts = newStartTimes();
      this.#startTimes.set(instrument, starts);
    }
    if (starts.words.length < 2 * points) {
      const words = new Uint32Array(Math.max(2 * points, 2 * starts.words.length));
      words.set(starts.words);
      starts.words = words;
    }
    starts.arrays.length = Math.min(starts.arrays.length, points);
    return starts;
  }

  #numberValue(value: number, int: boolean): void {
    if (int) {
      const v = Math.trunc(value);
      this.#out[this.#pos++] = NumberPointField.AsInt;
      this.#words(lowBits(v), highBits(v));
    } else {
      this.#out[this.#pos++] = NumberPointField.AsDouble;
      this.#double(value);
    }
  }

  #words(lo: number, hi: number): void {
    this.#view.setUint32(this.#pos, lo, true);
    this.#view.setUint32(this.#pos + 4, hi, true);
    this.#pos += 8;
  }

  #double(value: number): void {
    f64[0] = value;
    this.#words(f64Words[0], f64Words[1]);
  }

  /** A non-negative count as a fixed64 field, omitted when zero. */
  #count(tag: number, count: number): void {
    if (count === 0) return;
    this.#out[this.#pos++] = tag;
    this.#words(lowBits(count), highBits(count));
  }

  /** Copies the cached `KeyValue` entries (tagged `0x0a`) of a set and retags each as `tag`. */
  #attributesField(entry: number, tag: number): void {
    const cache = this.#attributes;
    const pos = this.#pos;
    this.#copy(cache.slabs[cache.slabOf[entry]], cache.offsets[entry], cache.lengths[entry]);
    if (tag !== ATTRIBUTE_ENTRY_TAG) retagKeyValues(this.#out, pos, this.#pos, tag);
  }

  /**
   * Appends `from[offset, offset + n)`, four bytes per step, then the tail: no view object
   * per call, unlike `set()` (which also costs more than the copy for a few dozen bytes).
   */
  #copy(from: DataView, offset: number, n: number): void {
    const out = this.#out;
    const view = this.#view;
    const pos = this.#pos;
    let i = 0;
    for (; i + 4 <= n; i += 4) view.setUint32(pos + i, from.getUint32(offset + i, true), true);
    for (; i < n; i++) out[pos + i] = from.getUint8(offset + i);
    this.#pos = pos + n;
  }

  #histogramSize(dp: DataPoint<Histogram>): number {
    const h = dp.value;
    const bounds = h.buckets.boundaries;
    if (bounds !== this.#bounds) this.#packBounds(bounds);
    const counts = h.buckets.counts.length;
    return (
      (h.count === 0 ? 0 : 9) +
      (h.sum === undefined ? 0 : 9) +
      (counts === 0 ? 0 : 1 + varintSize(counts * 8) + counts * 8) +
      this.#boundsBytes.byteLength +
      (h.min === undefined ? 0 : 9) +
      (h.max === undefined ? 0 : 9)
    );
  }

  /** The packed `explicit_bounds` field of one bounds array (the SDK shares one per instrument). */
  #packBounds(bounds: readonly number[]): void {
    this.#bounds = bounds;
    const n = bounds.length;
    if (n === 0) {
      this.#boundsBytes = NO_VIEW;
      return;
    }
    const bytes = new Uint8Array(1 + varintSize(n * 8) + n * 8);
    bytes[0] = HistogramPointField.ExplicitBounds;
    const at = writeVarint(bytes, 1, n * 8);
    const view = new DataView(bytes.buffer);
    for (let k = 0; k < n; k++) view.setFloat64(at + 8 * k, bounds[k], true);
    this.#boundsBytes = view;
  }

  #histogram(dp: DataPoint<Histogram>, entry: number): void {
    const h = dp.value;
    const out = this.#out;
    this.#times();
    this.#count(DistributionField.Count, h.count);
    if (h.sum !== undefined) {
      out[this.#pos++] = DistributionField.Sum;
      this.#double(h.sum);
    }
    const counts = h.buckets.counts;
    if (counts.length > 0) {
      out[this.#pos++] = HistogramPointField.BucketCounts;
      let pos = writeVarint(out, this.#pos, counts.length * 8);
      const view = this.#view;
      for (let k = 0; k < counts.length; k++, pos += 8) {
        const c = counts[k];
        view.setUint32(pos, c >>> 0, true);
        view.setUint32(pos + 4, c > 0xffffffff ? highBits(c) : 0, true);
      }
      this.#pos = pos;
    }
    this.#copy(this.#boundsBytes, 0, this.#boundsBytes.byteLength);
    this.#attributesField(entry, HistogramPointField.Attributes);
    if (h.min !== undefined) {
      out[this.#pos++] = HistogramPointField.Min;
      this.#double(h.min);
    }
    if (h.max !== undefined) {
      out[this.#pos++] = HistogramPointField.Max;
      this.#double(h.max);
    }
  }

  #exponential(dp: DataPoint<ExponentialHistogram>, entry: number): void {
    const h = dp.value;
    const out = this.#out;
    this.#attributesField(entry, ExponentialPointField.Attributes);
    this.#times();
    this.#count(DistributionField.Count, h.count);
    if (h.sum !== undefined) {
      out[this.#pos++] = DistributionField.Sum;
      this.#double(h.sum);
    }
    if (h.scale !== 0) {
      out[this.#pos++] = ExponentialPointField.Scale;
      this.#pos = writeVarint(out, this.#pos, zigzag32(h.scale));
    }
    this.#count(ExponentialPointField.ZeroCount, h.zeroCount);
    this.#buckets(ExponentialPointField.Positive, h.positive.offset, h.positive.bucketCounts);
    this.#buckets(ExponentialPointField.Negative, h.negative.offset, h.negative.bucketCounts);
    if (h.min !== undefined) {
      out[this.#pos++] = ExponentialPointField.Min;
      this.#double(h.min);
    }
    if (h.max !== undefined) {
      out[this.#pos++] = ExponentialPointField.Max;
      this.#double(h.max);
    }
  }

  #buckets(tag: number, offset: number, counts: readonly number[]): void {
    const out = this.#out;
    const packed = packedVarintsSize(counts);
    out[this.#pos++] = tag;
    this.#pos = writeVarint(out, this.#pos, bucketsSize(offset, packed, counts.length));
    if (offset !== 0) {
      out[this.#pos++] = BucketsField.Offset;
      this.#pos = writeVarint(out, this.#pos, zigzag32(offset));
    }
    if (counts.length === 0) return;
    out[this.#pos++] = BucketsField.BucketCounts;
    this.#pos = writeVarint(out, this.#pos, packed);
    let pos = this.#pos;
    for (let k = 0; k < counts.length; k++) {
      const c = counts[k];
      pos = writeVarint64(out, pos, lowBits(c), c > 0xffffffff ? highBits(c) : 0);
    }
    this.#pos = pos;
  }
}

const timeWords = new Uint32Array(2);
/** Numbers the collections encoded in this process (see `EncodedRequest.collection`). */
let nextCollection = 1;

/**
 * An instrument's start times by position: the SDK array last seen there and its
 * conversion (u64 halves at `2k`, `2k + 1`).
 */
interface StartTimes {
  arrays: HrTime[];
  words: Uint32Array;
}

function newStartTimes(): StartTimes {
  return { arrays: [], words: new Uint32Array(0) };
}

function exponentialSize(dp: DataPoint<ExponentialHistogram>): number {
  const h = dp.value;
  const positive = countsBucketsSize(h.positive.offset, h.positive.bucketCounts);
  const negative = countsBucketsSize(h.negative.offset, h.negative.bucketCounts);
  return (
    (h.count === 0 ? 0 : 9) +
    (h.sum === undefined ? 0 : 9) +
    (h.scale === 0 ? 0 : 1 + varintSize(zigzag32(h.scale))) +
    (h.zeroCount === 0 ? 0 : 9) +
    1 +
    varintSize(positive) +
    positive +
    1 +
    varintSize(negative) +
    negative +
    (h.min === undefined ? 0 : 9) +
    (h.max === undefined ? 0 : 9)
  );
}

/** Size of a `Buckets` message holding `counts`. */
function countsBucketsSize(offset: number, counts: readonly number[]): number {
  return bucketsSize(offset, packedVarintsSize(counts), counts.length);
}

function packedVarintsSize(counts: readonly number[]): number {
  let size = 0;
  for (let k = 0; k < counts.length; k++) {
    const c = counts[k];
    size += c <= 0xffffffff ? varintSize(c) : varint64Size(lowBits(c), highBits(c));
  }
  return size;
}

function stringField(tag: number, text: string): Uint8Array {
  if (text.length === 0) return new Uint8Array(0);
  const bytes = encodeUtf8(text);
  const out = new Uint8Array(1 + varintSize(bytes.length) + bytes.length);
  out[0] = tag;
  out.set(bytes, writeVarint(out, 1, bytes.length));
  return out;
}

function lengthDelimited(tag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + varintSize(body.length) + body.length);
  out[0] = tag;
  out.set(body, writeVarint(out, 1, body.length));
  return out;
}

/** The `resource` field of `ResourceMetrics` (mapped as `MetricBatch.addResource` does). */
function resourceInfo(resourceMetrics: ResourceMetrics): Uint8Array {
  const attributes = encodeKeyValues(
    toKeyValues(resourceMetrics.resource.attributes),
    ResourceField.Attributes,
  );
  return lengthDelimited(ResourceMetricsField.Resource, attributes);
}

/** The `scope` field of `ScopeMetrics`. */
function scopeInfo(scopeMetrics: ScopeMetrics): Uint8Array {
  const { scope } = scopeMetrics;
  return lengthDelimited(
    ScopeMetricsField.Scope,
    Buffer.concat([
      stringField(ScopeField.Name, scope.name),
      stringField(ScopeField.Version, scope.version ?? ''),
    ]),
  );
}

function metricHeader(metric: MetricData): MetricHeader {
  const { descriptor } = metric;
  const type = metricType(metric.dataPointType);
  const temporality = otlpTemporality(metric);
  const fields = Buffer.concat([
    stringField(MetricField.Name, descriptor.name),
    stringField(MetricField.Description, descriptor.description),
    stringField(MetricField.Unit, descriptor.unit),
  ]);
  const trailer: number[] = [];
  if (type !== MetricType.Gauge && temporality !== 0)
    trailer.push(DataField.AggregationTemporality, temporality);
  if (metric.dataPointType === SDK_SUM && metric.isMonotonic)
    trailer.push(DataField.IsMonotonic, 1);
  // Delta points of a series do not depend on each other: the engine may send them in any
  // order, so they get no series key.
  const seriesSeed = temporality === 1 ? undefined : hashText(`${descriptor.name}\0${type}`);
  return {
    fields,
    type,
    trailer: Uint8Array.from(trailer),
    seriesSeed,
    int: descriptor.valueType === VALUE_TYPE_INT,
  };
}
