import { sameBytes } from '../../model/attribute-table.js';
import { nextCapacity } from '../../model/words64.js';

/** An entry of a `SeriesIndex`: where its attribute set's bytes are in the arena, and its value. */
interface Entry<T> {
  start: number;
  length: number;
  value: T;
}

/**
 * Series of one metric family by the resource-and-scope label text they share and the wire
 * bytes of their attribute set, found with no string made per point: by the set's hash (which
 * the decoder computed) and then a compare of the bytes, four at a time, with the entry's
 * copy in the index's arena. Building a key string per point (the set's bytes as text, after
 * the scope's label text) and hashing it was most of what a point of a known series cost
 * the scrape endpoint; comparing the bytes with a Latin-1 copy, character by character, was
 * still a tenth of it.
 */
/** The series of one scope key (`SeriesIndex.scope`), by set hash: what `findIn` looks in. */
export type ScopeSeries<T> = Map<number, Entry<T> | Entry<T>[]>;

export class SeriesIndex<T> {
  readonly #byScope = new Map<string, ScopeSeries<T>>();
  #arena = new Uint8Array(16 * 1024);
  #view = new DataView(this.#arena.buffer);
  #used = 0;

  /** The value for the set `bytes[start, end)` (`view` over `bytes`, hash `hash`) under `scopeKey`. */
  find(scopeKey: string, hash: number, view: DataView, start: number, end: number): T | undefined {
    const scope = this.#byScope.get(scopeKey);
    return scope && this.findIn(scope, hash, view, start, end);
  }

  /**
   * The series of `scopeKey`, if any: a caller with many points of one scope looks it up
   * once (a lookup by the scope's label text compares that text whole).
   */
  scope(scopeKey: string): ScopeSeries<T> | undefined {
    return this.#byScope.get(scopeKey);
  }

  /** `find` within the series of one scope (from `scope`, valid until the next `prune`). */
  findIn(
    scope: ScopeSeries<T>,
    hash: number,
    view: DataView,
    start: number,
    end: number,
  ): T | undefined {
    const found = scope.get(hash);
    if (found === undefined) return undefined;
    if (!Array.isArray(found))
      return this.#holds(found, view, start, end) ? found.value : undefined;
    for (const entry of found) if (this.#holds(entry, view, start, end)) return entry.value;
    return undefined;
  }

  /** Adds `value` for the set `bytes[start, end)` (hash `hash`), not in the index yet. */
  add(
    scopeKey: string,
    hash: number,
    bytes: Uint8Array,
    start: number,
    end: number,
    value: T,
  ): void {
    let byHash = this.#byScope.get(scopeKey);
    if (!byHash) {
      byHash = new Map();
      this.#byScope.set(scopeKey, byHash);
    }
    const entry = { start: this.#copy(bytes, start, end), length: end - start, value };
    const found = byHash.get(hash);
    if (found === undefined) byHash.set(hash, entry);
    else if (Array.isArray(found)) found.push(entry);
    else byHash.set(hash, [found, entry]);
  }

  /** Drops every entry whose value `keep` refuses (and the arena's bytes only they used). */
  prune(keep: (value: T) => boolean): void {
    const arena = this.#arena;
    this.#arena = new Uint8Array(Math.max(16 * 1024, this.#used));
    this.#view = new DataView(this.#arena.buffer);
    this.#used = 0;
    for (const [scopeKey, byHash] of this.#byScope) {
      for (const [hash, found] of byHash) {
        const kept = (Array.isArray(found) ? found : [found]).filter((entry) => keep(entry.value));
        for (const entry of kept)
          entry.start = this.#copy(arena, entry.start, entry.start + entry.length);
        if (kept.length === 0) byHash.delete(hash);
        else byHash.set(hash, kept.length === 1 ? kept[0] : kept);
      }
      if (byHash.size === 0) this.#byScope.delete(scopeKey);
    }
  }

  #holds(entry: Entry<T>, view: DataView, start: number, end: number): boolean {
    return (
      entry.length === end - start && sameBytes(this.#view, entry.start, view, start, entry.length)
    );
  }

  /** Copies `bytes[start, end)` to the end of the arena; where it starts there. */
  #copy(bytes: Uint8Array, start: number, end: number): number {
    const at = this.#used;
    if (at + end - start > this.#arena.length) {
      const arena = new Uint8Array(nextCapacity(this.#arena.length, at + end - start));
      arena.set(this.#arena.subarray(0, at));
      this.#arena = arena;
      this.#view = new DataView(arena.buffer);
    }
    this.#arena.set(bytes.subarray(start, end), at);
    this.#used = at + end - start;
    return at;
  }
}
