import { hashRange } from './attribute-table.js';
import { copyBytes } from './wire.js';
import type { WireReader } from './wire-reader.js';
import { growUint8, nextCapacity } from './words64.js';

/** Entries of one run kept before it is copied instead (a point with more is unusual). */
const RUN_ENTRIES = 128;

/**
 * One point's attribute set read from request bytes, as an `AttributeTable` stores it —
 * each `KeyValue` entry retagged `0x0a` — so a scan of a request can find or key the series
 * a decoded batch would give that point. Reused point after point.
 *
 * Encoders write a point's attributes back to back, each behind a one-byte tag, so the set
 * is usually one run of the request: it is then retagged where it lies and read there, and
 * the tags are put back afterwards (`putBack`), so the bytes are as they came. Copying each
 * entry out was a tenth of the OTLP relay's work and 8 % of `otlp → aggregate`'s; retagging
 * and putting back costs about half that. Entries that do not lie back to back (another
 * field between them, a tag written in more than one byte) are copied into a buffer of the
 * set's own, a run at a time.
 *
 * Retag in place only bytes nothing else reads meanwhile: a thread-pool task (a file write,
 * compression) reading the same buffer would see the changed tags.
 */
export class CanonicalSet {
  /** Where the set lies in the view `seal` returns: its bytes `[start, end)`. */
  start = 0;
  end = 0;
  /** Reads the request the set is gathered from (`buf` and `view` are the request's). */
  readonly #reader: WireReader;
  /** The run not yet copied: where each entry's tag byte is (it starts at the first), where it ends. */
  readonly #tags = new Int32Array(RUN_ENTRIES);
  #entries = 0;
  #runEnd = -1;
  /** The entries copied out so far, retagged: `#copy[0, #copied)`. */
  #copy: Uint8Array = new Uint8Array(1024);
  #copyView: DataView = new DataView(this.#copy.buffer);
  #copied = 0;
  /** The tag bytes `seal` replaced in place (`#retagged` of them), for `putBack`. */
  readonly #saved = new Uint8Array(RUN_ENTRIES);
  #retagged = 0;

  constructor(reader: WireReader) {
    this.#reader = reader;
  }

  /** Starts a point's set. */
  begin(): void {
    this.#entries = 0;
    this.#runEnd = -1;
    this.#copied = 0;
  }

  /**
   * Adds the entry whose tag ends at `reader.buf[tagAt]` (the byte before its length prefix; only
   * that byte is retagged) and whose `KeyValue` ends at `end`.
   */
  add(tagAt: number, end: number): void {
    const entries = this.#entries;
    // Tested so that the copy is called only when there is a run to copy: rarely, which
    // keeps it out of the callers V8 inlines this into.
    if (entries > 0 && (tagAt !== this.#runEnd || entries === RUN_ENTRIES)) this.#copyRun();
    this.#tags[this.#entries++] = tagAt;
    this.#runEnd = end;
  }

  /**
   * Places the set in `[start, end)` of the view returned: retagged where it lies when
   * `inPlace` allows it and it is one run (call `putBack` once it has been read), copied
   * otherwise. (Returned, not kept in a field: a pointer stored a point costs a write barrier.)
   */
  seal(inPlace: boolean): DataView {
    const entries = this.#entries;
    if (inPlace && entries > 0 && this.#copied === 0) {
      this.#retagRun(entries);
      this.#retagged = entries;
      this.start = this.#tags[0];
      this.end = this.#runEnd;
      return this.#reader.view;
    }
    if (entries > 0) this.#copyRun();
    this.start = 0;
    this.end = this.#copied;
    return this.#copyView;
  }

  /** The request's own tag bytes back where `seal` retagged them. */
  putBack(): void {
    if (this.#retagged === 0) return;
    this.#restoreRun(this.#retagged);
    this.#retagged = 0;
  }

  /** The set's hash, as `AttributeTable` computes it for the same bytes; the request left as it came. */
  hash(): number {
    const entries = this.#entries;
    if (entries === 0 || this.#copied !== 0)
      return hashRange(this.seal(false), this.start, this.end);
    // One run, as usual: retagged around the hash, without the fields `seal` and `putBack`
    // keep for a caller that reads the set in between.
    this.#retagRun(entries);
    const hash = hashRange(this.#reader.view, this.#tags[0], this.#runEnd);
    this.#restoreRun(entries);
    return hash;
  }

  /** The run's first `entries` tags set to `0x0a` where they lie, the request's own kept. */
  #retagRun(entries: number): void {
    const src = this.#reader.buf;
    const tags = this.#tags;
    const saved = this.#saved;
    for (let k = 0; k < entries; k++) {
      saved[k] = src[tags[k]];
      src[tags[k]] = 0x0a;
    }
  }

  /** The request's own tags back where `#retagRun` set its first `entries`. */
  #restoreRun(entries: number): void {
    const src = this.#reader.buf;
    const tags = this.#tags;
    const saved = this.#saved;
    for (let k = 0; k < entries; k++) src[tags[k]] = saved[k];
  }

  /** The run gathered so far (not empty), copied out in one go and its copied tags set to `0x0a`. */
  #copyRun(): void {
    const entries = this.#entries;
    const tags = this.#tags;
    const start = tags[0];
    const at = this.#copied;
    const need = at + this.#runEnd - start;
    if (need > this.#copy.length) this.#grow(need);
    const copy = this.#copy;
    const reader = this.#reader;
    this.#copied = copyBytes(
      copy,
      this.#copyView,
      at,
      reader.buf,
      reader.view,
      start,
      this.#runEnd,
    );
    const shift = at - start;
    for (let k = 0; k < entries; k++) copy[tags[k] + shift] = 0x0a;
    this.#entries = 0;
    this.#runEnd = -1;
  }

  #grow(need: number): void {
    this.#copy = growUint8(this.#copy, nextCapacity(this.#copy.length, need));
    this.#copyView = new DataView(this.#copy.buffer);
  }
}
