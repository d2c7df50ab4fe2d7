/**
 * Keeps or drops key-values of an attribute set in its wire form (entries tagged `0x0a`, as
 * the attribute table stores them) by key, without decoding any value: the aggregate
 * processor reduces every incoming set this way.
 */
export class AttributeProjection {
  readonly #keys: Uint8Array[];
  readonly #keep: boolean;
  /** Read position of `#varint`. */
  #pos = 0;

  /** `keep`: keep only `keys` (group_by); otherwise drop `keys` (drop_attributes). */
  constructor(keys: readonly string[], keep: boolean) {
    this.#keys = keys.map((k) => new TextEncoder().encode(k));
    this.#keep = keep;
  }

  /** The projected set, in the same wire form. */
  project(bytes: Uint8Array): Uint8Array {
    const kept: [number, number][] = [];
    let size = 0;
    this.#pos = 0;
    while (this.#pos < bytes.length) {
      const entryStart = this.#pos;
      this.#pos++; // tag 0x0a
      const length = this.#varint(bytes);
      const body = this.#pos;
      const pos = body + length;
      this.#pos = pos;
      if (this.#listed(bytes, body, pos) === this.#keep) {
        kept.push([entryStart, pos]);
        size += pos - entryStart;
      }
    }
    if (size === bytes.length) return bytes;
    const out = new Uint8Array(size);
    let at = 0;
    for (const [start, end] of kept) {
      out.set(bytes.subarray(start, end), at);
      at += end - start;
    }
    return out;
  }

  #varint(bytes: Uint8Array): number {
    let value = 0;
    let shift = 0;
    let b: number;
    do {
      b = bytes[this.#pos++];
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b >= 0x80);
    return value;
  }

  /** Whether the KeyValue body `bytes[start, end)` has one of the listed keys. */
  #listed(bytes: Uint8Array, start: number, end: number): boolean {
    // KeyValue.key is field 1; our encoder writes it first (absent when empty).
    if (start >= end || bytes[start] !== 0x0a) return this.#keys.some((k) => k.length === 0);
    const resume = this.#pos;
    this.#pos = start + 1;
    const length = this.#varint(bytes);
    const pos = this.#pos;
    this.#pos = resume;
    for (const key of this.#keys) {
      if (key.length !== length) continue;
      let same = true;
      for (let k = 0; k < length; k++) {
        if (bytes[pos + k] !== key[k]) {
          same = false;
          break;
        }
      }
      if (same) return true;
    }
    return false;
  }
}
