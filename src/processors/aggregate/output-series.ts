import type { PointColumns } from '../../model/point-columns.js';
import type { PointView } from '../../model/point-view.js';
import type { PointRecord } from '../../model/request-visitor.js';
import { MetricType, Temporality } from '../../model/types.js';
import { growFloat64, growInt32, growUint8, growUint32 } from '../../model/words64.js';
import { addBucket, downscale, type ExponentialContribution } from './exponential.js';
import { type InputProjection, OutputSets } from './output-sets.js';
import { grownCapacity } from './series-sets.js';
import { before } from './u64-time.js';

/** An exponential histogram output's buckets by index at `scale` (rare: kept in objects). */
export interface ExponentialBuckets {
  scale: number;
  zeroCount: number;
  zeroThreshold: number;
  positive: Map<number, number>;
  negative: Map<number, number>;
}

/** The metric type and temporality of a metric id's outputs. */
export type MetricKind = (metricId: number) => { type: MetricType; temporality: Temporality };

/**
 * The aggregate processor's output series and what each has accumulated, in typed columns:
 * identities in `OutputSets` (metric id, and the attribute set one of its inputs projects
 * to), numbers by output id.
 * Objects of ~35 fields with a key string and a byte array each were most of the
 * processor's memory (about 700 bytes an output) and of the collector's garbage-collection
 * work; a column entry is about 110 bytes plus the set's bytes and histogram counts.
 *
 * Times are the two 32-bit halves of their u64 nanoseconds, as the batch columns hold them,
 * so merging a point creates no `bigint`. Some columns mean one thing per metric type, as
 * the field comments say: an output has one type for life.
 */
export class OutputSeriesTable {
  #sets: OutputSets;
  /** Earliest start and latest time of the members. */
  startHi = new Uint32Array(1024);
  startLo = new Uint32Array(1024);
  timeHi = new Uint32Array(1024);
  timeLo = new Uint32Array(1024);
  /** 1 when a point arrived since the last emit. */
  updated = new Uint8Array(1024);
  /** A sum's total (cumulative running total, or this interval's delta); a gauge's last value; a histogram's count. */
  value = new Float64Array(1024);
  /** A gauge's sum of values this interval (for `mean`); a histogram's sum. */
  sum = new Float64Array(1024);
  /** A gauge's values this interval (for `mean`). */
  samples = new Float64Array(1024);
  /** A gauge's last value's time. */
  lastHi = new Uint32Array(1024);
  lastLo = new Uint32Array(1024);
  /** Histograms' min and max (+∞ and -∞: none). */
  min = new Float64Array(1024);
  max = new Float64Array(1024);
  /**
   * Explicit histograms: the bounds layout (-1: none yet), shared by all outputs with equal
   * bounds, and the bucket counts at `counts[countsStart ..]`, one more than the bounds.
   * Outputs made one after another get neighbouring counts, and senders repeat their series
   * in the order they were first seen: merging walks memory in order.
   */
  layout = new Int32Array(1024);
  countsStart = new Int32Array(1024);
  counts = new Float64Array(16 * 1024);
  #countsUsed = 0;
  #layouts: Float64Array[] = [];
  readonly #layoutIds = new Map<string, number>();
  /** Exponential histograms' buckets, by output. */
  exponential = new Map<number, ExponentialBuckets>();

  /** `project`: an output's set as one of its inputs gives it (see `OutputSets`). */
  constructor(project: InputProjection, capacity = 1024) {
    this.#sets = new OutputSets(project, capacity);
    if (capacity !== 1024) this.#allocate(capacity);
  }

  get count(): number {
    return this.#sets.count;
  }

  /** The output id of (`metric`, the set `bytes` hashing to `hash`), or -1. */
  find(metric: number, bytes: Uint8Array, hash: number): number {
    return this.#sets.find(metric, bytes, hash);
  }

  /**
   * Adds output (`metric`, set `bytes` hashing to `hash`) after `find` said -1, its set what
   * input `source` projects to, its time range that of point `i` of `points` (its start, or
   * its time if none).
   */
  add(
    metric: number,
    bytes: Uint8Array,
    hash: number,
    source: number,
    points: PointColumns,
    i: number,
  ): number {
    const o = this.#sets.add(metric, bytes, hash, source);
    if (o >= this.updated.length) this.#grow(this.#sets.capacity);
    const start = points.startTime.u32;
    const time = points.time.u32;
    const hasStart = (start[2 * i] | start[2 * i + 1]) !== 0;
    this.startHi[o] = hasStart ? start[2 * i + 1] : time[2 * i + 1];
    this.startLo[o] = hasStart ? start[2 * i] : time[2 * i];
    this.timeHi[o] = time[2 * i + 1];
    this.timeLo[o] = time[2 * i];
    this.#clear(o);
    return o;
  }

  /** Zeroes output `o`'s accumulators (columns are reused after `compact`). */
  #clear(o: number): void {
    this.updated[o] = 0;
    this.value[o] = 0;
    this.sum[o] = 0;
    this.samples[o] = 0;
    this.lastHi[o] = 0;
    this.lastLo[o] = 0;
    this.min[o] = Number.POSITIVE_INFINITY;
    this.max[o] = Number.NEGATIVE_INFINITY;
    this.layout[o] = -1;
    this.countsStart[o] = 0;
  }

  metric(o: number): number {
    return this.#sets.metric(o);
  }

  hash(o: number): number {
    return this.#sets.hash(o);
  }

  /** Output `o`'s attribute set bytes (a view: valid until the next call). */
  attributes(o: number): Uint8Array {
    return this.#sets.bytes(o);
  }

  /** The bounds of layout `layout`. */
  bounds(layout: number): Float64Array {
    return this.#layouts[layout];
  }

  /** Output `o`'s bucket counts, a view (empty when it has no layout yet). */
  bucketCounts(o: number): Float64Array {
    const layout = this.layout[o];
    if (layout === -1) return EMPTY;
    const start = this.countsStart[o];
    return this.counts.subarray(start, start + this.#layouts[layout].length + 1);
  }

  /** Gives output `o` the layout of `bounds` and zeroed counts for it; the layout id. */
  setLayout(o: number, bounds: Float64Array): number {
    const key = bounds.join(',');
    let layout = this.#layoutIds.get(key);
    if (layout === undefined) {
      layout = this.#layouts.push(bounds) - 1;
      // Layouts are few in practice; past a bound (odd data), each output gets its own.
      if (this.#layoutIds.size < 10_000) this.#layoutIds.set(key, layout);
    }
    const length = bounds.length + 1;
    const start = this.#countsUsed;
    if (start + length > this.counts.length) {
      this.counts = growFloat64(this.counts, grownCapacity(this.counts.length, start + length));
    }
    this.counts.fill(0, start, start + length);
    this.#countsUsed = start + length;
    this.layout[o] = layout;
    this.countsStart[o] = start;
    return layout;
  }

  /** Marks `o` updated by point `p`: earliest start, latest time. */
  widenTimes(o: number, p: PointRecord): void {
    const { startHi, startLo, timeHi, timeLo } = p;
    if ((startHi | startLo) !== 0 && before(startHi, startLo, this.startHi[o], this.startLo[o])) {
      this.startHi[o] = startHi;
      this.startLo[o] = startLo;
    }
    if (before(this.timeHi[o], this.timeLo[o], timeHi, timeLo)) {
      this.timeHi[o] = timeHi;
      this.timeLo[o] = timeLo;
    }
    this.updated[o] = 1;
  }

  /** A gauge point: the latest value wins (ties to the later arrival); `mean` also averages. */
  addGauge(o: number, p: PointRecord, mode: 'last' | 'mean'): void {
    if (mode === 'mean') {
      this.sum[o] += p.value;
      this.samples[o]++;
    }
    if (!before(p.timeHi, p.timeLo, this.lastHi[o], this.lastLo[o])) {
      this.value[o] = p.value;
      this.lastHi[o] = p.timeHi;
      this.lastLo[o] = p.timeLo;
    }
  }

  /** Merges an exponential histogram contribution at the coarser of the two scales. */
  addExponential(o: number, view: PointView, c: ExponentialContribution): void {
    let buckets = this.exponential.get(o);
    if (!buckets) {
      buckets = {
        scale: view.scale,
        zeroCount: 0,
        zeroThreshold: 0,
        positive: new Map(),
        negative: new Map(),
      };
      this.exponential.set(o, buckets);
    }
    // Each bucket index i at scale s is i >> (s - target) at the target scale.
    const target = Math.min(buckets.scale, view.scale);
    if (target < buckets.scale) {
      buckets.positive = downscale(buckets.positive, buckets.scale - target);
      buckets.negative = downscale(buckets.negative, buckets.scale - target);
      buckets.scale = target;
    }
    const shift = view.scale - target;
    for (const [index, n] of c.positive ?? []) addBucket(buckets.positive, index >> shift, n);
    for (const [index, n] of c.negative ?? []) addBucket(buckets.negative, index >> shift, n);
    buckets.zeroCount += c.zeroCount;
    buckets.zeroThreshold = Math.max(buckets.zeroThreshold, view.zeroThreshold);
    this.value[o] += c.count;
    this.sum[o] += c.sum;
    if (view.min !== undefined) this.min[o] = Math.min(this.min[o], view.min);
    if (view.max !== undefined) this.max[o] = Math.max(this.max[o], view.max);
  }

  /** After an emit: gauge means and deltas start over; cumulative totals carry on. */
  resetAfterEmit(o: number, type: MetricType, temporality: Temporality): void {
    this.updated[o] = 0;
    if (type === MetricType.Gauge) {
      this.sum[o] = 0;
      this.samples[o] = 0;
      return;
    }
    if (temporality !== Temporality.Delta) return;
    this.startHi[o] = this.timeHi[o];
    this.startLo[o] = this.timeLo[o];
    this.value[o] = 0;
    this.sum[o] = 0;
    this.min[o] = Number.POSITIVE_INFINITY;
    this.max[o] = Number.NEGATIVE_INFINITY;
    this.bucketCounts(o).fill(0);
    const buckets = this.exponential.get(o);
    if (buckets) {
      buckets.zeroCount = 0;
      buckets.positive = new Map();
      buckets.negative = new Map();
    }
  }

  /**
   * Forgets the outputs `keep` rejects and renumbers the rest (their sets, accumulators and
   * counts move along; counts only other outputs used are freed). Returns old id → new id
   * (-1 for forgotten ones).
   */
  compact(keep: (o: number) => boolean): Int32Array {
    const before = this.count;
    const moved = new Int32Array(before).fill(-1);
    // Decided before the columns are replaced (the callback reads them).
    let count = 0;
    for (let o = 0; o < before; o++) if (keep(o)) moved[o] = count++;
    const old = this.#columnsOf();
    const exponential = this.exponential;
    this.#sets = this.#sets.compacted(moved, count);
    this.#reset(this.#sets.capacity);
    for (let o = 0; o < before; o++) {
      const to = moved[o];
      if (to === -1) continue;
      this.#copyRow(old, o, to);
      const buckets = exponential.get(o);
      if (buckets) this.exponential.set(to, buckets);
    }
    return moved;
  }

  /**
   * Points each output's set at one of its inputs after they were renumbered (see
   * `OutputSets.relink`).
   */
  relink(inputOutput: Int32Array, inputs: number): void {
    this.#sets.relink(inputOutput, inputs);
  }

  /** The columns as they are now (views), for `compact`. */
  #columnsOf(): OutputTableColumns {
    return {
      startHi: this.startHi,
      startLo: this.startLo,
      timeHi: this.timeHi,
      timeLo: this.timeLo,
      updated: this.updated,
      value: this.value,
      sum: this.sum,
      samples: this.samples,
      lastHi: this.lastHi,
      lastLo: this.lastLo,
      min: this.min,
      max: this.max,
      layout: this.layout,
      countsStart: this.countsStart,
      counts: this.counts,
    };
  }

  #copyRow(from: OutputTableColumns, o: number, to: number): void {
    this.startHi[to] = from.startHi[o];
    this.startLo[to] = from.startLo[o];
    this.timeHi[to] = from.timeHi[o];
    this.timeLo[to] = from.timeLo[o];
    this.updated[to] = from.updated[o];
    this.value[to] = from.value[o];
    this.sum[to] = from.sum[o];
    this.samples[to] = from.samples[o];
    this.lastHi[to] = from.lastHi[o];
    this.lastLo[to] = from.lastLo[o];
    this.min[to] = from.min[o];
    this.max[to] = from.max[o];
    this.layout[to] = -1;
    const layout = from.layout[o];
    if (layout === -1) return;
    const bounds = this.#layouts[layout];
    this.#placeCounts(
      to,
      layout,
      from.counts.subarray(from.countsStart[o], from.countsStart[o] + bounds.length + 1),
    );
  }

  /** Gives output `o` layout `layout` and a copy of `counts`. */
  #placeCounts(o: number, layout: number, counts: Float64Array): void {
    const start = this.#countsUsed;
    if (start + counts.length > this.counts.length) {
      this.counts = growFloat64(
        this.counts,
        grownCapacity(this.counts.length, start + counts.length),
      );
    }
    this.counts.set(counts, start);
    this.#countsUsed = start + counts.length;
    this.layout[o] = layout;
    this.countsStart[o] = start;
  }

  /**
   * The outputs in the snapshot's form (copies: merges go on while the snapshot is written);
   * `kind` tells how each output's columns are read, `seenAt` when each was last seen.
   */
  snapshot(kind: MetricKind, seenAt: Float64Array): OutputColumns {
    const n = this.count;
    const sets = this.#sets;
    const numbers = new Float64Array(n * WIDTH);
    const attributesEnd = new Uint32Array(n);
    let attributes = new Uint8Array(64 * n);
    let attributesUsed = 0;
    const layout = new Int32Array(n).fill(-1);
    const countsEnd = new Uint32Array(n);
    const counts = new Float64Array(this.#countsUsed);
    const exponential: OutputColumns['exponential'] = [];
    let c = 0;
    for (let o = 0; o < n; o++) {
      const { type } = kind(sets.metric(o));
      const row = o * WIDTH;
      numbers[row + 0] = sets.metric(o);
      numbers[row + 1] = sets.hash(o);
      numbers[row + 2] = seenAt[o];
      numbers[row + 3] = this.startHi[o];
      numbers[row + 4] = this.startLo[o];
      numbers[row + 5] = this.timeHi[o];
      numbers[row + 6] = this.timeLo[o];
      numbers[row + VALUE_ROW[type]] = this.value[o];
      numbers[row + 9] = this.lastHi[o];
      numbers[row + 10] = this.lastLo[o];
      numbers[row + (type === MetricType.Gauge ? 11 : 14)] = this.sum[o];
      numbers[row + 12] = this.samples[o];
      numbers[row + 15] = this.min[o];
      numbers[row + 16] = this.max[o];
      const buckets = this.exponential.get(o);
      if (buckets) {
        numbers[row + 17] = buckets.scale;
        numbers[row + 18] = buckets.zeroCount;
        numbers[row + 19] = buckets.zeroThreshold;
        exponential.push([o, new Map(buckets.positive), new Map(buckets.negative)]);
      }
      const set = sets.bytes(o);
      if (attributesUsed + set.length > attributes.length) {
        attributes = growUint8(
          attributes,
          grownCapacity(attributes.length, attributesUsed + set.length),
        );
      }
      attributes.set(set, attributesUsed);
      attributesUsed += set.length;
      attributesEnd[o] = attributesUsed;
      if (this.layout[o] !== -1) {
        const own = this.bucketCounts(o);
        counts.set(own, c);
        c += own.length;
        layout[o] = this.layout[o];
      }
      countsEnd[o] = c;
    }
    return {
      count: n,
      numbers,
      updated: this.updated.slice(0, n),
      // In id order, end to end.
      attributes: attributes.subarray(0, attributesUsed),
      attributesEnd,
      layouts: this.#layouts.slice(),
      layout,
      countsEnd,
      counts: counts.subarray(0, c),
      exponential,
    };
  }

  /**
   * A table holding the outputs of a snapshot (`snapshot()`, perhaps of another process),
   * each with its own copy of its set until `relink` finds an input that projects to it.
   */
  static fromSnapshot(
    columns: OutputColumns,
    kind: MetricKind,
    project: InputProjection,
  ): OutputSeriesTable {
    const table = new OutputSeriesTable(project, Math.max(1024, columns.count));
    const layouts = columns.layouts.map((bounds) => table.#layoutFor(bounds));
    const exponential = new Map(columns.exponential.map(([o, p, n]) => [o, { p, n }]));
    const numbers = columns.numbers;
    for (let o = 0; o < columns.count; o++) {
      const row = o * WIDTH;
      const metric = numbers[row];
      const { type } = kind(metric);
      const start = o > 0 ? columns.attributesEnd[o - 1] : 0;
      const to = table.#sets.add(
        metric,
        columns.attributes.subarray(start, columns.attributesEnd[o]),
        numbers[row + 1],
        -1,
      );
      if (to >= table.updated.length) table.#grow(table.#sets.capacity);
      table.startHi[to] = numbers[row + 3];
      table.startLo[to] = numbers[row + 4];
      table.timeHi[to] = numbers[row + 5];
      table.timeLo[to] = numbers[row + 6];
      table.updated[to] = columns.updated[o];
      table.value[to] = numbers[row + VALUE_ROW[type]];
      table.lastHi[to] = numbers[row + 9];
      table.lastLo[to] = numbers[row + 10];
      table.sum[to] = numbers[row + (type === MetricType.Gauge ? 11 : 14)];
      table.samples[to] = numbers[row + 12];
      table.min[to] = numbers[row + 15];
      table.max[to] = numbers[row + 16];
      table.layout[to] = -1;
      if (columns.layout[o] >= 0) {
        const from = o > 0 ? columns.countsEnd[o - 1] : 0;
        table.#placeCounts(
          to,
          layouts[columns.layout[o]],
          columns.counts.subarray(from, columns.countsEnd[o]),
        );
      }
      const buckets = exponential.get(o);
      if (type === MetricType.ExponentialHistogram) {
        table.exponential.set(to, {
          scale: numbers[row + 17],
          zeroCount: numbers[row + 18],
          zeroThreshold: numbers[row + 19],
          positive: buckets?.p ?? new Map(),
          negative: buckets?.n ?? new Map(),
        });
      }
    }
    return table;
  }

  /** The layout id of `bounds` (shared with equal bounds seen before). */
  #layoutFor(bounds: Float64Array): number {
    const key = bounds.join(',');
    const known = this.#layoutIds.get(key);
    if (known !== undefined) return known;
    const layout = this.#layouts.push(bounds) - 1;
    this.#layoutIds.set(key, layout);
    return layout;
  }

  #reset(capacity: number): void {
    this.exponential = new Map();
    this.#countsUsed = 0;
    this.counts = new Float64Array(this.counts.length);
    this.#allocate(capacity);
  }

  #allocate(capacity: number): void {
    this.startHi = new Uint32Array(capacity);
    this.startLo = new Uint32Array(capacity);
    this.timeHi = new Uint32Array(capacity);
    this.timeLo = new Uint32Array(capacity);
    this.updated = new Uint8Array(capacity);
    this.value = new Float64Array(capacity);
    this.sum = new Float64Array(capacity);
    this.samples = new Float64Array(capacity);
    this.lastHi = new Uint32Array(capacity);
    this.lastLo = new Uint32Array(capacity);
    this.min = new Float64Array(capacity);
    this.max = new Float64Array(capacity);
    this.layout = new Int32Array(capacity);
    this.countsStart = new Int32Array(capacity);
  }

  #grow(capacity: number): void {
    this.startHi = growUint32(this.startHi, capacity);
    this.startLo = growUint32(this.startLo, capacity);
    this.timeHi = growUint32(this.timeHi, capacity);
    this.timeLo = growUint32(this.timeLo, capacity);
    this.updated = growUint8(this.updated, capacity);
    this.value = growFloat64(this.value, capacity);
    this.sum = growFloat64(this.sum, capacity);
    this.samples = growFloat64(this.samples, capacity);
    this.lastHi = growUint32(this.lastHi, capacity);
    this.lastLo = growUint32(this.lastLo, capacity);
    this.min = growFloat64(this.min, capacity);
    this.max = growFloat64(this.max, capacity);
    this.layout = growInt32(this.layout, capacity);
    this.countsStart = growInt32(this.countsStart, capacity);
  }
}

/** The table's number columns (see `OutputSeriesTable`). */
type OutputTableColumns = Pick<
  OutputSeriesTable,
  | 'startHi'
  | 'startLo'
  | 'timeHi'
  | 'timeLo'
  | 'updated'
  | 'value'
  | 'sum'
  | 'samples'
  | 'lastHi'
  | 'lastLo'
  | 'min'
  | 'max'
  | 'layout'
  | 'countsStart'
  | 'counts'
>;

/**
 * The outputs as a snapshot stores them: a row of `WIDTH` numbers each, their attribute
 * sets end to end, histogram bounds as an index into the distinct layouts, counts end to
 * end. (The form of the first snapshots, whose outputs were objects: they still load.)
 *
 * A row: metric id, set hash, seen at, start (hi, lo), time (hi, lo), a sum's value, a
 * gauge's last value, its time (hi, lo), a gauge's sum, samples, a histogram's count, sum,
 * min, max, an exponential histogram's scale, zero count and zero threshold.
 */
export interface OutputColumns {
  count: number;
  numbers: Float64Array;
  updated: Uint8Array;
  attributes: Uint8Array;
  attributesEnd: Uint32Array;
  layouts: Float64Array[];
  /** Per output: its layout (-1: not a histogram yet), and its counts in `counts`. */
  layout: Int32Array;
  countsEnd: Uint32Array;
  counts: Float64Array;
  /** Exponential histograms' buckets: [output, positive, negative]. */
  exponential: [number, Map<number, number> | undefined, Map<number, number> | undefined][];
}

const WIDTH = 20;

/** Where a row keeps the `value` column, by metric type. */
const VALUE_ROW: Record<MetricType, number> = {
  [MetricType.Empty]: 7,
  [MetricType.Sum]: 7,
  [MetricType.Gauge]: 8,
  [MetricType.Histogram]: 13,
  [MetricType.ExponentialHistogram]: 13,
  [MetricType.Summary]: 7,
};

const EMPTY = new Float64Array(0);
