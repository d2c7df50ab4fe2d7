/**
 * Keeps or drops key-values of an attribute set in its wire form (entries tagged `0x0a`, as
 * the attribute table stores them) by key, without decoding any value: the aggregate
 * processor reduces every incoming set this way.
 */
export class AttributeProjection {
  readonly #keys: Uint8Array[];
  readonly #keep: boolean;

  /** `keep`: keep only `keys` (group_by); otherwise drop `keys` (drop_attributes). */
  constructor(keys: readonly string[], keep: boolean) {
    this.#keys = keys.map((k) => new TextEncoder().encode(k));
    this.#keep = keep;
  }

  /** The projected set, in the same wire form. */
  project(bytes: Uint8Array): Uint8Array {
    const kept: [number, number][] = [];
    let size = 0;
    let pos = 0;
    while (pos < bytes.length) {
      const entryStart = pos;
      pos++; // tag 0x0a
      let length = 0;
      let shift = 0;
      let b: number;
      do {
        b = bytes[pos++];
        length += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b >= 0x80);
      const body = pos;
      pos += length;
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

  /** Whether the KeyValue body `bytes[start, end)` has one of the listed keys. */
  #listed(bytes: Uint8Array, start: number, end: number): boolean {
    // KeyValue.key is field 1; our encoder writes it first (absent when empty).
    if (start >= end || bytes[start] !== 0x0a) return this.#keys.some((k) => k.length === 0);
    let pos = start + 1;
    let length = 0;
    let shift = 0;
    let b: number;
    do {
      b = bytes[pos++];
      length += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b >= 0x80);
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
