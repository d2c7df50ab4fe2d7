import { hashRange, sameBytes } from '../../model/attribute-table.js';
import { nextCapacity } from '../../model/words64.js';

/**
 * An entry of a `SeriesIndex`: where its attribute set's bytes are in the arena, its value,
 * and the entry looked up right after it the last time (see `SeriesIndex.findAfter`).
 */
export interface Entry<T> {
  start: number;
  length: number;
  value: T;
  next: Entry<T> | undefined;
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
/** The series of one scope key (`SeriesIndex.scope`), by set hash: what `findAfter` looks in. */
export type ScopeSeries<T> = Map<number, Entry<T> | Entry<T>[]>;

export class SeriesIndex<T> {
  readonly #byScope = new Map<string, ScopeSeries<T>>();
  #arena = new Uint8Array(16 * 1024);
  #view = new DataView(this.#arena.buffer);
  #used = 0;

  /** The value for the set `bytes[start, end)` (`view` over `bytes`, hash `hash`) under `scopeKey`. */
  find(scopeKey: string, hash: number, view: DataView, start: number, end: number): T | undefined {
    const scope = this.#byScope.get(scopeKey);
    return scope && this.#entryIn(scope, hash, view, start, end)?.value;
  }

  /**
   * The series of `scopeKey`, if any: a caller with many points of one scope looks it up
   * once (a lookup by the scope's label text compares that text whole).
   */
  scope(scopeKey: string): ScopeSeries<T> | undefined {
    return this.#byScope.get(scopeKey);
  }

  #entryIn(
    scope: ScopeSeries<T>,
    hash: number,
    view: DataView,
    start: number,
    end: number,
  ): Entry<T> | undefined {
    const found = scope.get(hash);
    if (found === undefined) return undefined;
    if (!Array.isArray(found)) return this.#holds(found, view, start, end) ? found : undefined;
    for (const entry of found) if (this.#holds(entry, view, start, end)) return entry;
    return undefined;
  }

  /**
   * The entry for the set `view[start, end)` in `scope`, guessed first: senders write their
   * series in the same order request after request, so the entry that followed `previous`
   * (the entry of the point before, in the same scope) the last time is compared first, with
   * no hash and no probe. A hit costs one compare of bytes read in order; a miss looks up by
   * hash and remembers the answer as `previous`'s next. With 300,000 series the probe of a
   * large `Map` (a cache miss or two) was a third of what a known point cost.
   */
  findAfter(
    scope: ScopeSeries<T>,
    previous: Entry<T> | undefined,
    view: DataView,
    start: number,
    end: number,
  ): Entry<T> | undefined {
    const guess = previous?.next;
    if (guess !== undefined && this.#holds(guess, view, start, end)) return guess;
    const found = this.#entryIn(scope, hashRange(view, start, end), view, start, end);
    if (previous !== undefined && found !== undefined) previous.next = found;
    return found;
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
    const entry: Entry<T> = {
      start: this.#copy(bytes, start, end),
      length: end - start,
      value,
      next: undefined,
    };
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
        for (const entry of kept) {
          entry.start = this.#copy(arena, entry.start, entry.start + entry.length);
          // A guess may name a dropped entry, whose bytes are gone.
          entry.next = undefined;
        }
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
