import { hashRange } from './attribute-table.js';
import { writeCanonicalEntry } from './key-value-bytes.js';

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
