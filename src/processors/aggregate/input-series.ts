import type { AttributeTable } from '../../model/attribute-table.js';
import { growFloat64, growInt32, growUint8, growUint32 } from '../../model/words64.js';
import { copySetColumns, grownCapacity, type SeriesSetColumns, SeriesSets } from './series-sets.js';

/** An input table's columns, `count` entries each (see `InputSeriesTable.columns`). */
export interface InputColumns extends SeriesSetColumns {
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
 * scope, name, type, temporality, unit) and the attribute set in wire form, in `SeriesSets`
 * — with numbers in typed columns: the output each one feeds and, for cumulative inputs,
 * its previous point, which a new point's change is measured against.
 *
 * A lookup is one probe and one compare, no string key or object per point — memory
 * latency is what bounds the processor's speed, and a second table of sets (one probe
 * more) cost a sixth of its time.
 */
export class InputSeriesTable {
  #sets = new SeriesSets();
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

  get count(): number {
    return this.#sets.count;
  }

  /** The input id of (`metric`, set `set` of `table`), or -1 if never seen. */
  find(metric: number, table: AttributeTable, set: number): number {
    const start = table.start(set);
    return this.#sets.find(metric, table.arenaView, start, table.end(set), table.hash(set));
  }

  /**
   * The input id of (`metric`, the set in canonical wire form at `src[start, end)` whose
   * `hashRange` is `hash`), or -1.
   */
  findBytes(metric: number, src: DataView, start: number, end: number, hash: number): number {
    return this.#sets.find(metric, src, start, end, hash);
  }

  /** Input `id`'s attribute set bytes (a view of the table's arena: valid until the next `add`). */
  bytes(id: number): Uint8Array {
    return this.#sets.bytes(id);
  }

  /** Whether input `id` exists and is (`metric`, the set at `src[start, end)`). */
  is(id: number, metric: number, src: DataView, start: number, end: number): boolean {
    return this.#sets.is(id, metric, src, start, end);
  }

  /** Adds input (`metric`, set `set` of `table`) feeding `output`, after `find` said -1. */
  add(metric: number, output: number, table: AttributeTable, set: number): number {
    const id = this.#sets.add(
      metric,
      table.arena,
      table.start(set),
      table.end(set),
      table.hash(set),
    );
    return this.#added(id, output);
  }

  /** Sets up the columns of new input `id`. */
  #added(id: number, output: number): number {
    if (id >= this.output.length) this.#grow(this.#sets.capacity);
    this.output[id] = output;
    this.hasPrevious[id] = 0;
    this.countsLength[id] = -1;
    return id;
  }

  /** Room for `length` previous bucket counts of input `id` (new when the layout changed). */
  reserveCounts(id: number, length: number): number {
    if (this.countsLength[id] === length) return this.countsStart[id];
    const start = this.#countsUsed;
    if (start + length > this.counts.length) {
      this.counts = growFloat64(this.counts, grownCapacity(this.counts.length, start + length));
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
    this.#reset(Math.max(1024, before), Math.max(64 * 1024, old.arena.length), old.counts.length);
    for (let id = 0; id < before; id++) {
      if (outputs[id] !== -1) moved[id] = this.#copyInput(old, id, outputs[id]);
    }
    return moved;
  }

  /** Every input's columns, as views of the table's own (for a snapshot, or `compact`). */
  columns(): InputColumns {
    const n = this.count;
    return {
      ...this.#sets.columns(),
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
      ...copySetColumns(c),
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
    this.#sets = new SeriesSets(capacity, arenaBytes);
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
    const to = this.#added(this.#sets.copy(from, id), output);
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
