import { AttributeTable } from '../../model/attribute-table.js';
import { IdHashIndex } from '../../model/id-hash-index.js';
import {
  growFloat64,
  growInt32,
  growUint8,
  growUint32,
  nextCapacity,
} from '../../model/words64.js';

/**
 * The input series the aggregate processor has seen, by identity — a metric id (resource,
 * scope, name, type, temporality, unit) and the attribute set in wire form — with numbers
 * in typed columns: the output each one feeds and, for cumulative inputs, its previous
 * point, which a new point's change is measured against.
 *
 * Lookups hash the batch's precomputed set hash with the metric id and compare bytes; no
 * string key or object per point, which is what bounds the processor's speed.
 */
export class InputSeriesTable {
  #sets = new AttributeTable(1024, 64 * 1024);
  #index = new IdHashIndex(1024);
  count = 0;
  #metric = new Int32Array(1024);
  #set = new Int32Array(1024);
  output = new Int32Array(1024);
  /** Wall clock (ms) of the input's latest point, for staleness. */
  lastSeen = new Float64Array(1024);
  /** Whether the input has a previous (cumulative) point yet. */
  hasPrevious = new Uint8Array(1024);
  /** Time of the previous point, as the halves of its u64 nanoseconds. */
  previousHi = new Uint32Array(1024);
  previousLo = new Uint32Array(1024);
  /** Sums: the previous value; histograms: the previous count. */
  previousValue = new Float64Array(1024);
  /** Histograms: the previous sum. */
  previousSum = new Float64Array(1024);
  /** Histograms: the previous bucket counts, `counts[countsStart .. + countsLength]`. */
  countsStart = new Int32Array(1024);
  countsLength = new Int32Array(1024);
  counts = new Float64Array(16 * 1024);
  #countsUsed = 0;
  /** The set `find` interned last, for the `add` that follows it. */
  #lastSet = -1;

  /**
   * The input id of (`metric`, set `set` of `table`), or -1 if never seen. The set is kept
   * either way: `add` follows for a new input.
   */
  find(metric: number, table: AttributeTable, set: number): number {
    const own = this.#sets.internFrom(table, set);
    this.#lastSet = own;
    return this.#lookup(metric, own);
  }

  #lookup(metric: number, set: number): number {
    const key = mix(metric, set);
    const index = this.#index;
    for (let slot = index.first(key); index.idAt(slot) !== -1; slot = index.next(slot)) {
      const id = index.idAt(slot);
      if (index.hashAt(slot) === key && this.#metric[id] === metric && this.#set[id] === set) {
        return id;
      }
    }
    return -1;
  }

  /** Adds an input feeding `output`, right after `find` said -1 for it. */
  add(metric: number, output: number): number {
    const set = this.#lastSet;
    const id = this.count++;
    if (id === this.output.length) this.#grow(nextCapacity(id, id + 1));
    this.#metric[id] = metric;
    this.#set[id] = set;
    this.output[id] = output;
    this.hasPrevious[id] = 0;
    this.countsLength[id] = -1;
    this.#index.insert(mix(metric, set), id);
    return id;
  }

  /** Room for `length` previous bucket counts of input `id` (new when the layout changed). */
  reserveCounts(id: number, length: number): number {
    if (this.countsLength[id] === length) return this.countsStart[id];
    const start = this.#countsUsed;
    if (start + length > this.counts.length) {
      this.counts = growFloat64(this.counts, nextCapacity(this.counts.length, start + length));
    }
    this.#countsUsed = start + length;
    this.countsStart[id] = start;
    this.countsLength[id] = length;
    return start;
  }

  /**
   * Forgets the inputs `keep` rejects and renumbers the rest (their attribute sets, state
   * and counts move along); `outputOf` gives each kept input's output id after the caller
   * renumbered outputs. Returns old id → new id (-1 for forgotten ones).
   */
  compact(keep: (id: number) => boolean, outputOf: (id: number) => number): Int32Array {
    const before = this.count;
    const moved = new Int32Array(before).fill(-1);
    const old = {
      sets: this.#sets,
      metric: this.#metric,
      set: this.#set,
      lastSeen: this.lastSeen,
      hasPrevious: this.hasPrevious,
      previousHi: this.previousHi,
      previousLo: this.previousLo,
      previousValue: this.previousValue,
      previousSum: this.previousSum,
      countsStart: this.countsStart,
      countsLength: this.countsLength,
      counts: this.counts,
    };
    // Decided before the columns are replaced (the callbacks read them).
    const outputs = new Int32Array(before).fill(-1);
    for (let id = 0; id < before; id++) if (keep(id)) outputs[id] = outputOf(id);
    const capacity = Math.max(1024, before);
    this.#sets = new AttributeTable(capacity, 64 * 1024);
    this.#index = new IdHashIndex(capacity);
    this.count = 0;
    this.#metric = new Int32Array(capacity);
    this.#set = new Int32Array(capacity);
    this.output = new Int32Array(capacity);
    this.lastSeen = new Float64Array(capacity);
    this.hasPrevious = new Uint8Array(capacity);
    this.previousHi = new Uint32Array(capacity);
    this.previousLo = new Uint32Array(capacity);
    this.previousValue = new Float64Array(capacity);
    this.previousSum = new Float64Array(capacity);
    this.countsStart = new Int32Array(capacity);
    this.countsLength = new Int32Array(capacity);
    this.counts = new Float64Array(Math.max(16 * 1024, old.counts.length));
    this.#countsUsed = 0;
    for (let id = 0; id < before; id++) {
      if (outputs[id] === -1) continue;
      this.find(old.metric[id], old.sets, old.set[id]);
      const to = this.add(old.metric[id], outputs[id]);
      moved[id] = to;
      this.lastSeen[to] = old.lastSeen[id];
      this.hasPrevious[to] = old.hasPrevious[id];
      this.previousHi[to] = old.previousHi[id];
      this.previousLo[to] = old.previousLo[id];
      this.previousValue[to] = old.previousValue[id];
      this.previousSum[to] = old.previousSum[id];
      const length = old.countsLength[id];
      if (length >= 0) {
        const at = this.reserveCounts(to, length);
        this.counts.set(old.counts.subarray(old.countsStart[id], old.countsStart[id] + length), at);
      }
    }
    return moved;
  }

  #grow(capacity: number): void {
    this.#metric = growInt32(this.#metric, capacity);
    this.#set = growInt32(this.#set, capacity);
    this.output = growInt32(this.output, capacity);
    this.lastSeen = growFloat64(this.lastSeen, capacity);
    this.hasPrevious = growUint8(this.hasPrevious, capacity);
    this.previousHi = growUint32(this.previousHi, capacity);
    this.previousLo = growUint32(this.previousLo, capacity);
    this.previousValue = growFloat64(this.previousValue, capacity);
    this.previousSum = growFloat64(this.previousSum, capacity);
    this.countsStart = growInt32(this.countsStart, capacity);
    this.countsLength = growInt32(this.countsLength, capacity);
  }
}

function mix(metric: number, set: number): number {
  return Math.imul(Math.imul(set, 0x01000193) ^ metric, 0x9e3779b1) | 0;
}
