/**
 * An open-addressing index from 32-bit hashes to ids, in two typed arrays. It replaces a
 * `Map` on the per-point paths (attribute sets, series): no entry objects to collect, and
 * a probe is a couple of array reads. The caller owns equality; it walks candidates with:
 *
 *   for (let slot = index.first(hash); index.idAt(slot) !== -1; slot = index.next(slot))
 *     if (index.hashAt(slot) === hash && sameThing(index.idAt(slot))) ...
 */
export interface IdHashIndexState {
  ids: Int32Array;
  hashes: Int32Array;
  size: number;
}

export class IdHashIndex {
  #ids: Int32Array;
  #hashes: Int32Array;
  #mask: number;
  #size = 0;
  /** Fill limit: the index grows past `size * 1/maxLoad` slots. */
  readonly #maxLoad: number;

  /**
   * `state`: an index that came from another thread (`exportState`). `maxLoad`: how full the
   * slots may get — 0.5 keeps probes short for lookups that often miss (a batch's sets);
   * tables of every series the process keeps take 0.75, a third less memory for them.
   */
  constructor(capacity = 64, state?: IdHashIndexState, maxLoad = 0.5) {
    this.#maxLoad = maxLoad;
    if (state) {
      this.#ids = state.ids;
      this.#hashes = state.hashes;
      this.#mask = state.ids.length - 1;
      this.#size = state.size;
      return;
    }
    let slots = 16;
    while (slots * maxLoad < capacity) slots *= 2;
    this.#ids = new Int32Array(slots).fill(-1);
    this.#hashes = new Int32Array(slots);
    this.#mask = slots - 1;
  }

  get size(): number {
    return this.#size;
  }

  first(hash: number): number {
    // Fibonacci hashing spreads hashes whose low bits are alike (FNV's often are).
    return (Math.imul(hash, 0x9e3779b1) >>> 0) & this.#mask;
  }

  next(slot: number): number {
    return (slot + 1) & this.#mask;
  }

  idAt(slot: number): number {
    return this.#ids[slot];
  }

  hashAt(slot: number): number {
    return this.#hashes[slot];
  }

  /** The index's arrays, to move it to another thread (the constructor's `state` rebuilds it). */
  exportState(): IdHashIndexState {
    return { ids: this.#ids, hashes: this.#hashes, size: this.#size };
  }

  clear(): void {
    this.#ids.fill(-1);
    this.#size = 0;
  }

  /** Adds `id` under `hash`; call only after a probe found no equal entry. */
  insert(hash: number, id: number): void {
    if (this.#size + 1 > this.#ids.length * this.#maxLoad) this.#grow();
    this.#place(hash, id);
    this.#size++;
  }

  #place(hash: number, id: number): void {
    let slot = this.first(hash);
    while (this.#ids[slot] !== -1) slot = (slot + 1) & this.#mask;
    this.#ids[slot] = id;
    this.#hashes[slot] = hash;
  }

  #grow(): void {
    const ids = this.#ids;
    const hashes = this.#hashes;
    this.#ids = new Int32Array(ids.length * 2).fill(-1);
    this.#hashes = new Int32Array(ids.length * 2);
    this.#mask = this.#ids.length - 1;
    for (let slot = 0; slot < ids.length; slot++) {
      if (ids[slot] !== -1) this.#place(hashes[slot], ids[slot]);
    }
  }
}
