import { copyOf } from '../../model/copy-bytes.js';
import { IdHashIndex } from '../../model/id-hash-index.js';
import { growInt32 } from '../../model/words64.js';
import { grownCapacity, INDEX_LOAD, seriesIndexKey } from './series-sets.js';

/**
 * An output's attribute set as one of its inputs gives it: the input's set projected by the
 * metric's rule (a view, valid until the next call), or `undefined` when the metric has no
 * rule now (a state restored under another configuration).
 */
export type InputProjection = (metric: number, input: number) => Uint8Array | undefined;

/**
 * The aggregate processor's output identities by number: metric id, set hash and the set's
 * bytes. An output's set is what each of its inputs projects to, so it is not stored: the
 * output names one of its inputs (its `source`) and the set is projected from that input's
 * bytes when needed — when a new input looks for its output, at an emit, in a snapshot.
 * Stored, the sets were the largest part of an output's memory (~90 bytes of ~300).
 *
 * An output whose set no input projects to (restored from a snapshot of another
 * configuration, or with no inputs left in it) keeps its own copy.
 */
export class OutputSets {
  count = 0;
  #metric = new Int32Array(1024);
  #hash = new Int32Array(1024);
  /** The input the output's set is projected from; -1: the set is in `#own`. */
  #source = new Int32Array(1024);
  readonly #own = new Map<number, Uint8Array>();
  readonly #index: IdHashIndex;
  readonly #project: InputProjection;

  constructor(project: InputProjection, capacity = 1024) {
    this.#project = project;
    this.#index = new IdHashIndex(capacity, undefined, INDEX_LOAD);
    if (capacity !== 1024) {
      this.#metric = new Int32Array(capacity);
      this.#hash = new Int32Array(capacity);
      this.#source = new Int32Array(capacity);
    }
  }

  /** How many entries fit before the columns grow (the owner's columns follow it). */
  get capacity(): number {
    return this.#metric.length;
  }

  /** The id of (`metric`, the set `bytes` hashing to `hash`), or -1. */
  find(metric: number, bytes: Uint8Array, hash: number): number {
    const index = this.#index;
    const key = seriesIndexKey(metric, hash);
    for (let slot = index.first(key); index.idAt(slot) !== -1; slot = index.next(slot)) {
      if (index.hashAt(slot) !== key) continue;
      const o = index.idAt(slot);
      if (this.#metric[o] === metric && equalBytes(this.bytes(o), bytes)) return o;
    }
    return -1;
  }

  /**
   * Adds (`metric`, the set `bytes` hashing to `hash`) after `find` said -1; its set is what
   * input `source` projects to (-1: none does, `bytes` are copied). Returns its id.
   */
  add(metric: number, bytes: Uint8Array, hash: number, source: number): number {
    const o = this.count++;
    if (o === this.#metric.length) {
      const capacity = grownCapacity(o, o + 1);
      this.#metric = growInt32(this.#metric, capacity);
      this.#hash = growInt32(this.#hash, capacity);
      this.#source = growInt32(this.#source, capacity);
    }
    this.#metric[o] = metric;
    this.#hash[o] = hash;
    this.#source[o] = source;
    if (source === -1) this.#own.set(o, copyOf(bytes));
    this.#index.insert(seriesIndexKey(metric, hash), o);
    return o;
  }

  metric(o: number): number {
    return this.#metric[o];
  }

  hash(o: number): number {
    return this.#hash[o];
  }

  /** Output `o`'s set bytes (a view: valid until the next call). */
  bytes(o: number): Uint8Array {
    const source = this.#source[o];
    if (source === -1) return this.#own.get(o)!;
    return this.#project(this.#metric[o], source)!;
  }

  /** A table of the entries `moved` keeps (old id → new id, -1: forgotten), sources as they were. */
  compacted(moved: Int32Array, count: number): OutputSets {
    const to = new OutputSets(this.#project, Math.max(1024, count));
    for (let o = 0; o < moved.length; o++) {
      if (moved[o] === -1) continue;
      const id = to.count++;
      to.#metric[id] = this.#metric[o];
      to.#hash[id] = this.#hash[o];
      to.#source[id] = this.#source[o];
      const own = this.#own.get(o);
      if (own) to.#own.set(id, own);
      to.#index.insert(seriesIndexKey(this.#metric[o], this.#hash[o]), id);
    }
    return to;
  }

  /**
   * Points each output at one of its inputs again after the inputs were renumbered
   * (`inputOutput[id]`: input id's output, for `inputs` of them). An output with its own copy
   * gives it up for an input that projects to the same set. Every output must have an input
   * left or its own copy: the aggregate forgets an output only with all its inputs.
   */
  relink(inputOutput: Int32Array, inputs: number): void {
    const linked = new Uint8Array(this.count);
    for (let id = 0; id < inputs; id++) {
      const o = inputOutput[id];
      if (linked[o] === 1) continue;
      const own = this.#own.get(o);
      if (own) {
        const projected = this.#project(this.#metric[o], id);
        if (!projected || !equalBytes(projected, own)) continue;
        this.#own.delete(o);
      }
      this.#source[o] = id;
      linked[o] = 1;
    }
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}
