import { type AttributeTable, sameBytes } from '../../model/attribute-table.js';
import { IdHashIndex } from '../../model/id-hash-index.js';
import {
  growFloat64,
  growInt32,
  growUint8,
  growUint32,
  nextCapacity,
} from '../../model/words64.js';

/** An input table's columns, `count` entries each (see `InputSeriesTable.columns`). */
export interface InputColumns {
  count: number;
  arena: Uint8Array;
  metric: Int32Array;
  setStart: Uint32Array;
  setEnd: Uint32Array;
  setHash: Int32Array;
  output: Int32Array;
  lastSeen: Float64Array;
  hasPrevious: Uint8Array;
  previousHi: Uint32Array;
  previousLo: Uint32Array;
  previousValue: Float64Array;
  previousSum: Float64Array;
  countsStart: Int32Array;
  countsLength: Int32Array;
  counts: Float64Array;
}

/**
 * The input series the aggregate processor has seen, by identity — a metric id (resource,
 * scope, name, type, temporality, unit) and the attribute set in wire form — with numbers
 * in typed columns: the output each one feeds and, for cumulative inputs, its previous
 * point, which a new point's change is measured against.
 *
 * One index from (metric, set hash) to inputs, and each input's set bytes in one arena in
 * the order inputs were first seen: a lookup is one probe and one compare, no string key or
 * object per point — memory latency is what bounds the processor's speed, and a second
 * table of sets (one probe more) cost a sixth of its time.
 */
export class InputSeriesTable {
  #arena = new Uint8Array(64 * 1024);
  #arenaView = new DataView(this.#arena.buffer);
  #used = 0;
  #index = new IdHashIndex(1024);
  count = 0;
  #metric = new Int32Array(1024);
  #setStart = new Uint32Array(1024);
  #setEnd = new Uint32Array(1024);
  #setHash = new Int32Array(1024);
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

  /** The input id of (`metric`, set `set` of `table`), or -1 if never seen. */
  find(metric: number, table: AttributeTable, set: number): number {
    const start = table.start(set);
    return this.findBytes(metric, table.arenaView, start, table.end(set), table.hash(set));
  }

  /**
   * The input id of (`metric`, the set in canonical wire form at `src[start, end)` whose
   * `hashRange` is `hash`), or -1.
   */
  findBytes(metric: number, src: DataView, start: number, end: number, hash: number): number {
    const index = this.#index;
    const key = mix(metric, hash);
    const length = end - start;
    for (let slot = index.first(key); index.idAt(slot) !== -1; slot = index.next(slot)) {
      if (index.hashAt(slot) !== key) continue;
      const id = index.idAt(slot);
      const s = this.#setStart[id];
      if (
        this.#metric[id] === metric &&
        this.#setEnd[id] - s === length &&
        sameBytes(this.#arenaView, s, src, start, length)
      ) {
        return id;
      }
    }
    return -1;
  }

  /** Whether input `id` exists and is (`metric`, the set at `src[start, end)`). */
  is(id: number, metric: number, src: DataView, start: number, end: number): boolean {
    if (id >= this.count || this.#metric[id] !== metric) return false;
    const s = this.#setStart[id];
    return (
      this.#setEnd[id] - s === end - start && sameBytes(this.#arenaView, s, src, start, end - start)
    );
  }

  /** Adds input (`metric`, set `set` of `table`) feeding `output`, after `find` said -1. */
  add(metric: number, output: number, table: AttributeTable, set: number): number {
    return this.#add(
      metric,
      output,
      table.arena,
      table.start(set),
      table.end(set),
      table.hash(set),
    );
  }

  #add(
    metric: number,
    output: number,
    src: Uint8Array,
    start: number,
    end: number,
    hash: number,
  ): number {
    const id = this.count++;
    if (id === this.output.length) this.#grow(nextCapacity(id, id + 1));
    const length = end - start;
    if (this.#used + length > this.#arena.length) {
      const arena = new Uint8Array(nextCapacity(this.#arena.length, this.#used + length));
      arena.set(this.#arena.subarray(0, this.#used));
      this.#arena = arena;
      this.#arenaView = new DataView(arena.buffer);
    }
    this.#arena.set(src.subarray(start, end), this.#used);
    this.#metric[id] = metric;
    this.#setStart[id] = this.#used;
    this.#setEnd[id] = this.#used + length;
    this.#setHash[id] = hash;
    this.#used += length;
    this.output[id] = output;
    this.hasPrevious[id] = 0;
    this.countsLength[id] = -1;
    this.#index.insert(mix(metric, hash), id);
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
    const old = this.columns();
    // Decided before the columns are replaced (the callbacks read them).
    const outputs = new Int32Array(before).fill(-1);
    for (let id = 0; id < before; id++) if (keep(id)) outputs[id] = outputOf(id);
    this.#reset(Math.max(1024, before), Math.max(64 * 1024, this.#used), old.counts.length);
    for (let id = 0; id < before; id++) {
      if (outputs[id] !== -1) moved[id] = this.#copyInput(old, id, outputs[id]);
    }
    return moved;
  }

  /** Every input's columns, as views of the table's own (for a snapshot, or `compact`). */
  columns(): InputColumns {
    const n = this.count;
    return {
      count: n,
      arena: this.#arena.subarray(0, this.#used),
      metric: this.#metric.subarray(0, n),
      setStart: this.#setStart.subarray(0, n),
      setEnd: this.#setEnd.subarray(0, n),
      setHash: this.#setHash.subarray(0, n),
      output: this.output.subarray(0, n),
      lastSeen: this.lastSeen.subarray(0, n),
      hasPrevious: this.hasPrevious.subarray(0, n),
      previousHi: this.previousHi.subarray(0, n),
      previousLo: this.previousLo.subarray(0, n),
      previousValue: this.previousValue.subarray(0, n),
      previousSum: this.previousSum.subarray(0, n),
      countsStart: this.countsStart.subarray(0, n),
      countsLength: this.countsLength.subarray(0, n),
      counts: this.counts.subarray(0, this.#countsUsed),
    };
  }

  /** `columns()` copied: a snapshot that later merges do not change. */
  copyColumns(): InputColumns {
    const c = this.columns();
    return {
      count: c.count,
      arena: c.arena.slice(),
      metric: c.metric.slice(),
      setStart: c.setStart.slice(),
      setEnd: c.setEnd.slice(),
      setHash: c.setHash.slice(),
      output: c.output.slice(),
      lastSeen: c.lastSeen.slice(),
      hasPrevious: c.hasPrevious.slice(),
      previousHi: c.previousHi.slice(),
      previousLo: c.previousLo.slice(),
      previousValue: c.previousValue.slice(),
      previousSum: c.previousSum.slice(),
      countsStart: c.countsStart.slice(),
      countsLength: c.countsLength.slice(),
      counts: c.counts.slice(),
    };
  }

  /** A table holding the inputs of `columns` (from `columns()`, perhaps of another process). */
  static fromColumns(columns: InputColumns): InputSeriesTable {
    const table = new InputSeriesTable();
    table.#reset(
      Math.max(1024, columns.count),
      Math.max(64 * 1024, columns.arena.length),
      Math.max(16 * 1024, columns.counts.length),
    );
    for (let id = 0; id < columns.count; id++) table.#copyInput(columns, id, columns.output[id]);
    return table;
  }

  #reset(capacity: number, arenaBytes: number, counts: number): void {
    this.#arena = new Uint8Array(arenaBytes);
    this.#arenaView = new DataView(this.#arena.buffer);
    this.#used = 0;
    this.#index = new IdHashIndex(capacity);
    this.count = 0;
    this.#metric = new Int32Array(capacity);
    this.#setStart = new Uint32Array(capacity);
    this.#setEnd = new Uint32Array(capacity);
    this.#setHash = new Int32Array(capacity);
    this.output = new Int32Array(capacity);
    this.lastSeen = new Float64Array(capacity);
    this.hasPrevious = new Uint8Array(capacity);
    this.previousHi = new Uint32Array(capacity);
    this.previousLo = new Uint32Array(capacity);
    this.previousValue = new Float64Array(capacity);
    this.previousSum = new Float64Array(capacity);
    this.countsStart = new Int32Array(capacity);
    this.countsLength = new Int32Array(capacity);
    this.counts = new Float64Array(Math.max(16 * 1024, counts));
    this.#countsUsed = 0;
  }

  /** Adds input `id` of `from` (its set, state and counts) feeding `output`; its new id. */
  #copyInput(from: InputColumns, id: number, output: number): number {
    const to = this.#add(
      from.metric[id],
      output,
      from.arena,
      from.setStart[id],
      from.setEnd[id],
      from.setHash[id],
    );
    this.lastSeen[to] = from.lastSeen[id];
    this.hasPrevious[to] = from.hasPrevious[id];
    this.previousHi[to] = from.previousHi[id];
    this.previousLo[to] = from.previousLo[id];
    this.previousValue[to] = from.previousValue[id];
    this.previousSum[to] = from.previousSum[id];
    const length = from.countsLength[id];
    if (length >= 0) {
      const at = this.reserveCounts(to, length);
      this.counts.set(
        from.counts.subarray(from.countsStart[id], from.countsStart[id] + length),
        at,
      );
    }
    return to;
  }

  #grow(capacity: number): void {
    this.#metric = growInt32(this.#metric, capacity);
    this.#setStart = growUint32(this.#setStart, capacity);
    this.#setEnd = growUint32(this.#setEnd, capacity);
    this.#setHash = growInt32(this.#setHash, capacity);
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

/** The index key of (metric id, set hash). */
function mix(metric: number, setHash: number): number {
  return Math.imul(setHash ^ Math.imul(metric, 0x9e3779b1), 0x01000193) | 0;
}
