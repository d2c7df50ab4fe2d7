import { sameBytes } from '../../model/attribute-table.js';
import { IdHashIndex } from '../../model/id-hash-index.js';
import { growInt32, growUint32 } from '../../model/words64.js';

/** A `SeriesSets`' columns, `count` entries each (see `SeriesSets.columns`). */
export interface SeriesSetColumns {
  count: number;
  arena: Uint8Array;
  metric: Int32Array;
  setStart: Uint32Array;
  setEnd: Uint32Array;
  setHash: Int32Array;
}

/**
 * Series identities by number: a metric id and an attribute set in canonical wire form,
 * the sets end to end in one arena in the order they were added, and one index from
 * (metric, set hash) to ids. The aggregate processor's input and output tables are each one
 * of these plus columns of numbers: no object, key string or byte array per series — those
 * were most of a series' memory, and the collector's garbage to trace.
 */
export class SeriesSets {
  #arena = new Uint8Array(64 * 1024);
  #arenaView = new DataView(this.#arena.buffer);
  #used = 0;
  #index = new IdHashIndex(1024, undefined, INDEX_LOAD);
  count = 0;
  #metric = new Int32Array(1024);
  /** Entry `id`'s set is `arena[setStart[id], setStart[id + 1])`: sets lie end to end. */
  #setStart = new Uint32Array(1025);
  #setHash = new Int32Array(1024);

  /** `capacity` entries and `arenaBytes` of sets before the first growth. */
  constructor(capacity = 1024, arenaBytes = 64 * 1024) {
    if (capacity !== 1024 || arenaBytes !== 64 * 1024) {
      this.#arena = new Uint8Array(arenaBytes);
      this.#arenaView = new DataView(this.#arena.buffer);
      this.#index = new IdHashIndex(capacity, undefined, INDEX_LOAD);
      this.#metric = new Int32Array(capacity);
      this.#setStart = new Uint32Array(capacity + 1);
      this.#setHash = new Int32Array(capacity);
    }
  }

  /** How many entries fit before the columns grow (the owner's columns follow it). */
  get capacity(): number {
    return this.#metric.length;
  }

  /**
   * The id of (`metric`, the set in canonical wire form at `src[start, end)` whose
   * `hashRange` is `hash`), or -1.
   */
  find(metric: number, src: DataView, start: number, end: number, hash: number): number {
    const index = this.#index;
    const key = seriesIndexKey(metric, hash);
    const length = end - start;
    for (let slot = index.first(key); index.idAt(slot) !== -1; slot = index.next(slot)) {
      if (index.hashAt(slot) !== key) continue;
      const id = index.idAt(slot);
      const s = this.#setStart[id];
      if (
        this.#metric[id] === metric &&
        this.#setStart[id + 1] - s === length &&
        sameBytes(this.#arenaView, s, src, start, length)
      ) {
        return id;
      }
    }
    return -1;
  }

  /** Whether entry `id` exists and is (`metric`, the set at `src[start, end)`). */
  is(id: number, metric: number, src: DataView, start: number, end: number): boolean {
    if (id >= this.count || this.#metric[id] !== metric) return false;
    const s = this.#setStart[id];
    return (
      this.#setStart[id + 1] - s === end - start &&
      sameBytes(this.#arenaView, s, src, start, end - start)
    );
  }

  /**
   * Adds (`metric`, the set at `src[start, end)` hashing to `hash`) after `find` said -1;
   * returns its id. Grows the columns when full: the owner grows its own when the id
   * reaches its capacity.
   */
  add(metric: number, src: Uint8Array, start: number, end: number, hash: number): number {
    const id = this.count++;
    if (id === this.#metric.length) this.#grow(grownCapacity(id, id + 1));
    const length = end - start;
    if (this.#used + length > this.#arena.length) {
      const arena = new Uint8Array(grownCapacity(this.#arena.length, this.#used + length));
      arena.set(this.#arena.subarray(0, this.#used));
      this.#arena = arena;
      this.#arenaView = new DataView(arena.buffer);
    }
    // Sets are a few dozen bytes: a loop beats `set` (a call each) by far at this size.
    const arena = this.#arena;
    const at = this.#used;
    for (let k = 0; k < length; k++) arena[at + k] = src[start + k];
    this.#metric[id] = metric;
    this.#setStart[id + 1] = at + length;
    this.#setHash[id] = hash;
    this.#used = at + length;
    this.#index.insert(seriesIndexKey(metric, hash), id);
    return id;
  }

  /** Adds entry `id` of `from` (a `columns()` result); its id here. */
  copy(from: SeriesSetColumns, id: number): number {
    return this.add(
      from.metric[id],
      from.arena,
      from.setStart[id],
      from.setEnd[id],
      from.setHash[id],
    );
  }

  metric(id: number): number {
    return this.#metric[id];
  }

  hash(id: number): number {
    return this.#setHash[id];
  }

  /** Entry `id`'s set bytes, as a view of the arena (valid until the next `add`). */
  bytes(id: number): Uint8Array {
    return this.#arena.subarray(this.#setStart[id], this.#setStart[id + 1]);
  }

  /** Every entry's columns, as views of the table's own. */
  columns(): SeriesSetColumns {
    const n = this.count;
    return {
      count: n,
      arena: this.#arena.subarray(0, this.#used),
      metric: this.#metric.subarray(0, n),
      setStart: this.#setStart.subarray(0, n),
      setEnd: this.#setStart.subarray(1, n + 1),
      setHash: this.#setHash.subarray(0, n),
    };
  }

  /** Bytes of sets held (the arena's used part). */
  get arenaBytes(): number {
    return this.#used;
  }

  #grow(capacity: number): void {
    this.#metric = growInt32(this.#metric, capacity);
    this.#setStart = growUint32(this.#setStart, capacity + 1);
    this.#setHash = growInt32(this.#setHash, capacity);
  }
}

/** `columns` copied: a snapshot that later additions do not change. */
export function copySetColumns(c: SeriesSetColumns): SeriesSetColumns {
  return {
    count: c.count,
    arena: c.arena.slice(),
    metric: c.metric.slice(),
    setStart: c.setStart.slice(),
    setEnd: c.setEnd.slice(),
    setHash: c.setHash.slice(),
  };
}

/**
 * The capacity after `current` when `needed` does not fit. Tables of every series live as
 * long as the process, so what they leave unused is kept for good: small ones grow by half,
 * large ones by an eighth (an eighth unused at most, for copies made more often: each entry
 * is copied about eight times over the table's growth, a few nanoseconds against the
 * microseconds a new series costs anyway).
 */
export function grownCapacity(current: number, needed: number): number {
  const factor = current < LARGE_TABLE ? 1.5 : 1.125;
  return Math.max(needed, 1024, Math.ceil(current * factor));
}

/** Entries (or bytes, or counts) from which a table grows by an eighth. */
const LARGE_TABLE = 64 * 1024;

/** How full the index of every series may get (see `IdHashIndex`). */
export const INDEX_LOAD = 0.75;

/** The index key of (metric id, set hash). */
export function seriesIndexKey(metric: number, setHash: number): number {
  return Math.imul(setHash ^ Math.imul(metric, 0x9e3779b1), 0x01000193) | 0;
}
