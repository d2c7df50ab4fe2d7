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

  /** Where `projectView` writes a projected set. */
  #scratch = new Uint8Array(256);

  /** The projected set, in the same wire form: `bytes` itself when nothing is left out. */
  project(bytes: Uint8Array): Uint8Array {
    const view = this.projectView(bytes);
    return view === bytes ? bytes : view.slice();
  }

  /**
   * `project` without a new array: `bytes` itself when nothing is left out, else a view of
   * this projection's own buffer, valid until its next call.
   */
  projectView(bytes: Uint8Array): Uint8Array {
    if (this.#scratch.length < bytes.length) this.#scratch = new Uint8Array(2 * bytes.length);
    const out = this.#scratch;
    let size = 0;
    this.#pos = 0;
    while (this.#pos < bytes.length) {
      const entryStart = this.#pos;
      this.#pos++; // tag 0x0a
      const length = this.#varint(bytes);
      const body = this.#pos;
      // Clamped: sets come from the attribute table, but a bad length must not run on.
      const pos = Math.min(body + length, bytes.length);
      this.#pos = pos;
      if (this.#listed(bytes, body, pos) === this.#keep) {
        for (let k = entryStart; k < pos; k++) out[size++] = bytes[k];
      }
    }
    return size === bytes.length ? bytes : out.subarray(0, size);
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
