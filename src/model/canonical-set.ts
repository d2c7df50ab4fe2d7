import { hashRange } from './attribute-table.js';
import { writeCanonicalEntry } from './key-value-bytes.js';
import { copyBytes } from './wire.js';

/**
 * One point's attribute set gathered from a request as an `AttributeTable` stores it — each
 * `KeyValue` entry retagged `0x0a` — so a scan of request bytes finds or keys the series
 * a decoded batch would give that point. Reused point after point.
 */
export class CanonicalSet {
  bytes: Uint8Array = new Uint8Array(1024);
  view: DataView = new DataView(this.bytes.buffer);
  /** Bytes used: the set is `bytes[0, length)`. */
  length = 0;

  clear(): void {
    this.length = 0;
  }

  /**
   * Appends the entry whose length prefix starts at `src[lengthStart]` and whose `KeyValue`
   * ends at `end` (as it follows the entry's tag on the wire).
   */
  append(src: Uint8Array, srcView: DataView, lengthStart: number, end: number): void {
    const need = this.length + end - lengthStart + 1;
    if (need > this.bytes.length) this.#grow(need);
    this.length = writeCanonicalEntry(
      this.bytes,
      this.view,
      this.length,
      src,
      srcView,
      lengthStart,
      end,
    );
  }

  /**
   * Appends the entries lying back to back in `src[start, end)`, as they follow each other on
   * the wire, in one copy; `tagsAt[0, count)` are where their tag bytes are in `src`, and the
   * copies of those are set to `0x0a`. A point's attributes are such a run, and one copy of
   * it saves the per-entry calls and short tails of copying entry by entry.
   */
  appendRun(
    src: Uint8Array,
    srcView: DataView,
    start: number,
    end: number,
    tagsAt: Int32Array,
    count: number,
  ): void {
    const at = this.length;
    const need = at + end - start;
    if (need > this.bytes.length) this.#grow(need);
    this.length = copyBytes(this.bytes, this.view, at, src, srcView, start, end);
    const bytes = this.bytes;
    const shift = at - start;
    for (let k = 0; k < count; k++) bytes[tagsAt[k] + shift] = 0x0a;
  }

  /** The set's hash, as `AttributeTable` computes it for the same bytes. */
  hash(): number {
    return hashRange(this.view, 0, this.length);
  }

  #grow(need: number): void {
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const bytes = new Uint8Array(size);
    bytes.set(this.bytes.subarray(0, this.length));
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer);
  }
}

/** Entries of one run kept before it is copied instead (a point with more is unusual). */
export const RUN_ENTRIES = 128;

/**
 * The hash `CanonicalSet.hash` gives a point's attribute set, computed where the entries
 * lie when they lie back to back in the request, as encoders write them: their tag bytes
 * are set to `0x0a`, the run is hashed in place and the tags are put back before `hash`
 * returns, so the bytes are as they came. Copying each entry into a `CanonicalSet` was
 * about a tenth of the relay's work. Entries that do not lie back to back (another field
 * between them, a tag written in more than one byte) are copied as before.
 *
 * Only for bytes nothing else reads while `hash` runs: a thread-pool task (a file write,
 * compression) reading the same buffer would see the changed tags. The relay's validator
 * checks a body before it is handed on; the scanner, whose bodies an exporter may already
 * hold, copies.
 */
export class SetHash {
  readonly #set = new CanonicalSet();
  #src: Uint8Array = new Uint8Array(0);
  #srcView: DataView = new DataView(this.#src.buffer);
  /** The run: where each entry's tag byte is, the tag, where the last entry ends. */
  readonly #tags = new Int32Array(RUN_ENTRIES);
  #entries = 0;
  #tag = 0;
  #end = 0;

  clear(): void {
    this.#set.clear();
    this.#entries = 0;
  }

  /**
   * Adds the entry with tag `tag` whose length prefix starts at `src[lengthStart]` and whose
   * `KeyValue` ends at `end`.
   */
  add(src: Uint8Array, srcView: DataView, tag: number, lengthStart: number, end: number): void {
    const tagAt = lengthStart - 1;
    const entries = this.#entries;
    // A one-byte tag is the byte before the length (a longer one ends in 0x00 there).
    const inRun =
      this.#set.length === 0 &&
      src[tagAt] === tag &&
      entries < RUN_ENTRIES &&
      (entries === 0 || (this.#end === tagAt && this.#tag === tag && this.#src === src));
    if (inRun) {
      if (entries === 0) {
        this.#src = src;
        this.#srcView = srcView;
        this.#tag = tag;
      }
      this.#tags[this.#entries++] = tagAt;
      this.#end = end;
      return;
    }
    this.#spill();
    this.#set.append(src, srcView, lengthStart, end);
  }

  hash(): number {
    const entries = this.#entries;
    if (entries === 0) return this.#set.hash();
    const src = this.#src;
    const tags = this.#tags;
    for (let k = 0; k < entries; k++) src[tags[k]] = 0x0a;
    const hash = hashRange(this.#srcView, tags[0], this.#end);
    for (let k = 0; k < entries; k++) src[tags[k]] = this.#tag;
    return hash;
  }

  /** The run's entries copied into the set, which takes the rest of the point's. */
  #spill(): void {
    const entries = this.#entries;
    if (entries === 0) return;
    this.#set.appendRun(this.#src, this.#srcView, this.#tags[0], this.#end, this.#tags, entries);
    this.#entries = 0;
  }
}
