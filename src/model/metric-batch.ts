import type { AttributesInput, KeyValue } from './any-value.js';
import { toKeyValues } from './any-value.js';
import { AttributeTable, type AttributeTableState, hashText } from './attribute-table.js';
import { InvalidMetricDataError } from './errors.js';
import { IdHashIndex, type IdHashIndexState } from './id-hash-index.js';
import { DistributionColumns, PointColumns } from './point-columns.js';
import { PointView } from './point-view.js';
import {
  type Exemplar,
  type MetricDescriptor,
  MetricType,
  PointBits,
  type Resource,
  type Scope,
  Temporality,
} from './types.js';
import { highBits, lowBits } from './wire.js';
import { nextCapacity, Words64 } from './words64.js';

export interface ResourceInput {
  attributes?: AttributesInput;
  droppedAttributesCount?: number;
  schemaUrl?: string;
}

export interface ScopeInput {
  name?: string;
  version?: string;
  attributes?: AttributesInput;
  droppedAttributesCount?: number;
  schemaUrl?: string;
}

export interface MetricInput {
  name: string;
  type: MetricType;
  description?: string;
  unit?: string;
  temporality?: Temporality;
  monotonic?: boolean;
  metadata?: AttributesInput;
}

interface PointCommon {
  /** Nanoseconds since the Unix epoch; 0 or absent means unknown. */
  startTime?: bigint;
  time: bigint;
  flags?: number;
  exemplars?: Exemplar[];
}

export interface NumberPointInput extends PointCommon {
  /** `bigint` records an int64 (`as_int`), `number` a double; absent records no value. */
  value?: number | bigint;
}

export interface HistogramPointInput extends PointCommon {
  count: number | bigint;
  sum?: number;
  min?: number;
  max?: number;
  bounds: ArrayLike<number>;
  bucketCounts: ArrayLike<number | bigint>;
}

export interface BucketsInput {
  offset: number;
  bucketCounts: ArrayLike<number | bigint>;
}

export interface ExponentialHistogramPointInput extends PointCommon {
  count: number | bigint;
  sum?: number;
  min?: number;
  max?: number;
  scale: number;
  zeroCount: number | bigint;
  zeroThreshold?: number;
  positive?: BucketsInput;
  negative?: BucketsInput;
}

export interface SummaryPointInput extends PointCommon {
  count: number | bigint;
  sum: number;
  quantiles: ReadonlyArray<{ quantile: number; value: number }>;
}

/**
 * A batch as plain data (typed arrays and plain objects), for `postMessage` to another
 * thread; `transferList` names the column buffers that can move instead of being copied.
 */
export interface MetricBatchState {
  resources: Resource[];
  scopes: Scope[];
  metrics: MetricDescriptor[];
  exemplars: Exemplar[];
  attributes: AttributeTableState;
  points: PointColumns;
  distributions: DistributionColumns;
  seriesMetric: Uint32Array;
  seriesAttributes: Uint32Array;
  seriesCount: number;
  seriesIndex: IdHashIndexState;
}

/**
 * A batch of metrics in columnar form: the working format of every sluice component.
 *
 * Resources, scopes and metric descriptors are small tables of objects; attribute sets are
 * interned ({@link AttributeTable}); a series is a (metric, attribute set) pair; points are
 * rows of typed-array columns ({@link PointColumns}), distributions in side columns.
 * Points may be appended in any order; codecs group them by resource, scope and metric.
 *
 * Ownership: a component that receives a batch through `consume` owns it; after handing a
 * batch on, the sender must not touch it again.
 */
export class MetricBatch {
  readonly resources: Resource[];
  readonly scopes: Scope[];
  readonly metrics: MetricDescriptor[];
  readonly attributes: AttributeTable;
  readonly points: PointColumns;
  readonly distributions: DistributionColumns;
  readonly exemplars: Exemplar[];

  #seriesMetric: Uint32Array;
  #seriesAttributes: Uint32Array;
  #seriesCount = 0;
  #seriesIndex: IdHashIndex;
  /** `#nameHash` cache: the name each value was computed from (decoders rename metrics). */
  #nameHashOf: string[] = [];
  #nameHashValue: number[] = [];

  /**
   * `capacity.points` sizes the columns up front for producers that know how much is coming
   * (growing by doubling costs copies and, in bulk, garbage collections).
   */
  constructor(
    capacity: { points?: number; attributeBytes?: number } = {},
    state?: MetricBatchState,
  ) {
    if (state) {
      // Adopts the arrays as they are: allocating default columns only to replace them
      // showed in profiles (~0.1 ms per batch, some forty small buffers).
      this.resources = state.resources;
      this.scopes = state.scopes;
      this.metrics = state.metrics;
      this.exemplars = state.exemplars;
      this.attributes = new AttributeTable(0, 0, state.attributes);
      this.points = new PointColumns(0, state.points);
      this.distributions = new DistributionColumns(0, state.distributions);
      this.#seriesMetric = state.seriesMetric as Uint32Array<ArrayBuffer>;
      this.#seriesAttributes = state.seriesAttributes as Uint32Array<ArrayBuffer>;
      this.#seriesCount = state.seriesCount;
      this.#seriesIndex = new IdHashIndex(0, state.seriesIndex);
      return;
    }
    this.resources = [];
    this.scopes = [];
    this.metrics = [];
    this.exemplars = [];
    const points = Math.max(16, capacity.points ?? 16);
    this.points = new PointColumns(points);
    // Half the points as distributions is a fair guess for mixed data; rows grow past it.
    this.distributions = new DistributionColumns(capacity.points ? Math.max(16, points >> 1) : 16);
    this.attributes = new AttributeTable(points, capacity.attributeBytes ?? points * 48);
    this.#seriesMetric = new Uint32Array(points);
    this.#seriesAttributes = new Uint32Array(points);
    this.#seriesIndex = new IdHashIndex(points);
  }

  /**
   * The batch as plain data for another thread. Pass `transferList(state)` to `postMessage`
   * to move the columns without copying; this batch must not be used afterwards.
   */
  exportState(): MetricBatchState {
    return {
      resources: this.resources,
      scopes: this.scopes,
      metrics: this.metrics,
      exemplars: this.exemplars,
      attributes: this.attributes.exportState(),
      points: this.points,
      distributions: this.distributions,
      seriesMetric: this.#seriesMetric,
      seriesAttributes: this.#seriesAttributes,
      seriesCount: this.#seriesCount,
      seriesIndex: this.#seriesIndex.exportState(),
    };
  }

  /** Rebuilds a batch from `exportState()` after it crossed a thread boundary. */
  static fromState(state: MetricBatchState): MetricBatch {
    return new MetricBatch({}, state);
  }

  /**
   * Empties the batch but keeps its memory, so a producer that owns a batch for a moment
   * (convert, encode, discard) does not allocate columns every time. Only for batches that
   * were never handed to anyone else.
   */
  clear(): this {
    this.resources.length = 0;
    this.scopes.length = 0;
    this.metrics.length = 0;
    this.exemplars.length = 0;
    this.attributes.clear();
    this.points.clear();
    this.distributions.clear();
    this.#seriesCount = 0;
    this.#seriesIndex.clear();
    return this;
  }

  get pointCount(): number {
    return this.points.count;
  }

  get seriesCount(): number {
    return this.#seriesCount;
  }

  seriesMetric(series: number): number {
    return this.#seriesMetric[series];
  }

  seriesAttributes(series: number): number {
    return this.#seriesAttributes[series];
  }

  /**
   * A hash of the series identity (metric name and attribute set): fixed functions of the
   * bytes, the same in every process — the nats exporter's partitions rely on it.
   */
  seriesHash(series: number): number {
    const hash = this.attributes.hash(this.#seriesAttributes[series]);
    return Math.imul(hash ^ this.#nameHash(this.#seriesMetric[series]), 0x01000193) | 0;
  }

  /** The hash of metric `m`'s name, kept per metric: a batch has many series per metric. */
  #nameHash(m: number): number {
    const name = this.metrics[m].name;
    if (this.#nameHashOf[m] === name) return this.#nameHashValue[m];
    const hash = hashText(name);
    this.#nameHashOf[m] = name;
    this.#nameHashValue[m] = hash;
    return hash;
  }

  addResource(input: ResourceInput = {}): number {
    this.resources.push({
      attributes: toKeyValues(input.attributes),
      droppedAttributesCount: input.droppedAttributesCount ?? 0,
      schemaUrl: input.schemaUrl ?? '',
    });
    return this.resources.length - 1;
  }

  addScope(resource: number, input: ScopeInput = {}): number {
    if (!(resource >= 0 && resource < this.resources.length)) {
      throw new InvalidMetricDataError(
        `addScope: resource ${resource} does not exist in this batch`,
      );
    }
    this.scopes.push({
      resource,
      name: input.name ?? '',
      version: input.version ?? '',
      attributes: toKeyValues(input.attributes),
      droppedAttributesCount: input.droppedAttributesCount ?? 0,
      schemaUrl: input.schemaUrl ?? '',
    });
    return this.scopes.length - 1;
  }

  addMetric(scope: number, input: MetricInput): number {
    if (!(scope >= 0 && scope < this.scopes.length)) {
      throw new InvalidMetricDataError(`addMetric: scope ${scope} does not exist in this batch`);
    }
    this.metrics.push({
      scope,
      name: input.name,
      description: input.description ?? '',
      unit: input.unit ?? '',
      type: input.type,
      temporality: input.temporality ?? Temporality.Unspecified,
      monotonic: input.monotonic ?? false,
      metadata: toKeyValues(input.metadata),
    });
    return this.metrics.length - 1;
  }

  /** The series of `metric` with the given attributes (an interned set id or the attributes). */
  series(metric: number, attributes: number | AttributesInput = []): number {
    const set = typeof attributes === 'number' ? attributes : this.attributes.intern(attributes);
    return this.seriesOf(metric, set);
  }

  /** The series id for (metric, interned attribute set id), created on first use. */
  seriesOf(metric: number, attributeSet: number): number {
    const hash = Math.imul(attributeSet ^ Math.imul(metric, 0x2c1b3c6d), 0x297a2d39) | 0;
    const index = this.#seriesIndex;
    for (let slot = index.first(hash); index.idAt(slot) !== -1; slot = index.next(slot)) {
      const series = index.idAt(slot);
      if (
        this.#seriesAttributes[series] === attributeSet &&
        this.#seriesMetric[series] === metric
      ) {
        return series;
      }
    }
    const series = this.#seriesCount++;
    if (series === this.#seriesMetric.length) {
      const capacity = nextCapacity(series, series + 1);
      const metrics = new Uint32Array(capacity);
      metrics.set(this.#seriesMetric);
      const sets = new Uint32Array(capacity);
      sets.set(this.#seriesAttributes);
      this.#seriesMetric = metrics;
      this.#seriesAttributes = sets;
    }
    this.#seriesMetric[series] = metric;
    this.#seriesAttributes[series] = attributeSet;
    index.insert(hash, series);
    return series;
  }

  addNumberPoint(series: number, input: NumberPointInput): number {
    this.#expectType(series, 'number point', MetricType.Gauge, MetricType.Sum);
    const i = this.#beginPoint(series, input);
    const { value } = input;
    const points = this.points;
    if (typeof value === 'bigint') {
      points.value.i64[i] = value;
      points.bits[i] = PointBits.Int | PointBits.HasValue;
    } else if (typeof value === 'number') {
      points.value.f64[i] = value;
      points.bits[i] = PointBits.HasValue;
    }
    return i;
  }

  addHistogramPoint(series: number, input: HistogramPointInput): number {
    this.#expectType(series, 'histogram point', MetricType.Histogram);
    const { bounds, bucketCounts } = input;
    if (bucketCounts.length !== 0 && bucketCounts.length !== bounds.length + 1) {
      throw new InvalidMetricDataError(
        `histogram point: ${bucketCounts.length} bucket counts for ${bounds.length} bounds (need bounds + 1, or none)`,
      );
    }
    const i = this.#beginPoint(series, input);
    const row = this.appendDistribution(i, input);
    const d = this.distributions;
    [d.positiveStart[row], d.positiveLength[row]] = this.#pushCounts(bucketCounts);
    d.reserveFloats(bounds.length);
    for (let k = 0; k < bounds.length; k++) d.floats[d.floatsUsed + k] = bounds[k];
    d.commitBounds(row, bounds.length);
    return i;
  }

  addExponentialHistogramPoint(series: number, input: ExponentialHistogramPointInput): number {
    this.#expectType(series, 'exponential histogram point', MetricType.ExponentialHistogram);
    const i = this.#beginPoint(series, input);
    const row = this.appendDistribution(i, input);
    const d = this.distributions;
    d.scale[row] = input.scale;
    setU64(d.zeroCount.u32, row, input.zeroCount);
    d.zeroThreshold[row] = input.zeroThreshold ?? 0;
    if (input.positive) {
      this.points.bits[i] |= PointBits.HasPositive;
      d.positiveOffset[row] = input.positive.offset;
      [d.positiveStart[row], d.positiveLength[row]] = this.#pushCounts(input.positive.bucketCounts);
    }
    if (input.negative) {
      this.points.bits[i] |= PointBits.HasNegative;
      d.negativeOffset[row] = input.negative.offset;
      [d.negativeStart[row], d.negativeLength[row]] = this.#pushCounts(input.negative.bucketCounts);
    }
    return i;
  }

  addSummaryPoint(series: number, input: SummaryPointInput): number {
    this.#expectType(series, 'summary point', MetricType.Summary);
    const i = this.#beginPoint(series, input);
    const row = this.appendDistribution(i, input);
    const d = this.distributions;
    const n = input.quantiles.length * 2;
    d.reserveFloats(n);
    for (let k = 0; k < input.quantiles.length; k++) {
      d.floats[d.floatsUsed + 2 * k] = input.quantiles[k].quantile;
      d.floats[d.floatsUsed + 2 * k + 1] = input.quantiles[k].value;
    }
    d.commitBounds(row, n);
    return i;
  }

  /** A reusable view of point `index`; call `view.at(j)` to move it without allocating. */
  point(index: number): PointView {
    return new PointView(this).at(index);
  }

  /**
   * Iterates every point, a view each (safe to keep, e.g. `[...batch.pointViews()]`). Hot
   * loops should move one `PointView` with `at(i)` instead.
   */
  *pointViews(): IterableIterator<PointView> {
    for (let i = 0; i < this.points.count; i++) yield new PointView(this).at(i);
  }

  /** Appends one point row; codecs fill the columns themselves after this. */
  appendPointRow(series: number): number {
    const points = this.points;
    points.reserve(1);
    const i = points.count++;
    points.series[i] = series;
    points.bits[i] = 0;
    points.flags[i] = 0;
    points.detail[i] = 0;
    points.exemplarEnd[i] = this.exemplars.length;
    // A cleared batch reuses rows: every field a decoder may leave unset starts at zero.
    const at = 2 * i;
    points.startTime.u32[at] = points.startTime.u32[at + 1] = 0;
    points.time.u32[at] = points.time.u32[at + 1] = 0;
    points.value.u32[at] = points.value.u32[at + 1] = 0;
    return i;
  }

  /** Appends a distribution row for point `i`; returns the row. */
  appendDistributionRow(i: number): number {
    const d = this.distributions;
    d.reserve(1);
    const row = d.count++;
    this.points.detail[i] = row;
    d.clearRow(row);
    return row;
  }

  #expectType(series: number, what: string, ...types: MetricType[]): void {
    if (!(series >= 0 && series < this.#seriesCount)) {
      throw new InvalidMetricDataError(`${what}: series ${series} does not exist in this batch`);
    }
    const metric = this.metrics[this.#seriesMetric[series]];
    if (!types.includes(metric.type)) {
      throw new InvalidMetricDataError(
        `${what}: metric "${metric.name}" has type ${metricTypeName(metric.type)}`,
      );
    }
  }

  #beginPoint(series: number, input: PointCommon): number {
    const i = this.appendPointRow(series);
    const points = this.points;
    points.startTime.u64[i] = input.startTime ?? 0n;
    points.time.u64[i] = input.time;
    points.value.f64[i] = 0;
    points.flags[i] = input.flags ?? 0;
    if (input.exemplars && input.exemplars.length > 0) {
      for (const exemplar of input.exemplars) this.exemplars.push(exemplar);
      points.exemplarEnd[i] = this.exemplars.length;
    }
    return i;
  }

  /**
   * Appends the distribution row of point `i` with its count, sum, min and max (sets the
   * point's presence bits, plus `extraBits`); returns the row. For builders and converters.
   */
  appendDistribution(
    i: number,
    input: { count: number | bigint; sum?: number; min?: number; max?: number },
    extraBits = 0,
  ): number {
    const row = this.appendDistributionRow(i);
    const d = this.distributions;
    const points = this.points;
    setU64(d.total.u32, row, input.count);
    let bits = extraBits;
    if (input.sum !== undefined) {
      points.value.f64[i] = input.sum;
      bits |= PointBits.HasSum;
    }
    if (input.min !== undefined) {
      d.min[row] = input.min;
      bits |= PointBits.HasMin;
    }
    if (input.max !== undefined) {
      d.max[row] = input.max;
      bits |= PointBits.HasMax;
    }
    points.bits[i] = bits;
    return row;
  }

  #pushCounts(counts: ArrayLike<number | bigint>): [number, number] {
    const d = this.distributions;
    d.reserveBucketCounts(counts.length);
    const start = d.bucketCountsUsed;
    for (let k = 0; k < counts.length; k++) setU64(d.bucketCounts.u32, start + k, counts[k]);
    d.bucketCountsUsed = start + counts.length;
    return [start, counts.length];
  }
}

/** Stores a non-negative count given as a safe integer or a bigint. */
function setU64(words: Uint32Array, index: number, value: number | bigint): void {
  if (typeof value === 'bigint') {
    words[2 * index] = Number(value & 0xffffffffn);
    words[2 * index + 1] = Number((value >> 32n) & 0xffffffffn);
  } else {
    words[2 * index] = lowBits(value);
    words[2 * index + 1] = highBits(value);
  }
}

export function metricTypeName(type: MetricType): string {
  switch (type) {
    case MetricType.Gauge:
      return 'gauge';
    case MetricType.Sum:
      return 'sum';
    case MetricType.Histogram:
      return 'histogram';
    case MetricType.ExponentialHistogram:
      return 'exponential_histogram';
    case MetricType.Summary:
      return 'summary';
    default:
      return 'empty';
  }
}

export type { KeyValue };

/**
 * The column buffers of a batch state: moved, not copied, by `postMessage`. (Only buffers
 * the columns allocated themselves: a view into a shared pool, such as a small Node
 * `Buffer`, must never be transferred.)
 */
export function transferList(state: MetricBatchState): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const add = (array: { buffer: ArrayBufferLike }) => buffers.add(array.buffer as ArrayBuffer);
  for (const columns of [state.points, state.distributions]) {
    for (const value of Object.values(columns)) {
      if (ArrayBuffer.isView(value)) add(value);
      else if (value instanceof Words64) add(value.u8);
    }
  }
  const { attributes } = state;
  for (const array of [attributes.arena, attributes.starts, attributes.ends, attributes.hashes])
    add(array);
  for (const index of [attributes.index, state.seriesIndex]) {
    add(index.ids);
    add(index.hashes);
  }
  add(state.seriesMetric);
  add(state.seriesAttributes);
  return [...buffers];
}
