/** An entry of a `SeriesIndex`: the attribute set's wire bytes as a Latin-1 key, and its value. */
interface Entry<T> {
  setKey: string;
  value: T;
}

/**
 * Series of one metric family by the resource-and-scope label text they share and the wire
 * bytes of their attribute set, found with no string made per point: by the set's hash (which
 * the decoder computed) and then a compare of the bytes with the entry's key. Building a key
 * string per point (the set's bytes as text, after the scope's label text) and hashing it was
 * most of what a point of a known series cost the scrape endpoint.
 */
export class SeriesIndex<T> {
  readonly #byScope = new Map<string, Map<number, Entry<T> | Entry<T>[]>>();

  /** The value for the set `bytes[start, end)` (hash `hash`) under `scopeKey`, if any. */
  find(
    scopeKey: string,
    hash: number,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): T | undefined {
    const found = this.#byScope.get(scopeKey)?.get(hash);
    if (found === undefined) return undefined;
    if (!Array.isArray(found))
      return sameBytes(found.setKey, bytes, start, end) ? found.value : undefined;
    for (const entry of found) if (sameBytes(entry.setKey, bytes, start, end)) return entry.value;
    return undefined;
  }

  /** Adds `value` for a set not in the index yet (`setKey`: its bytes as Latin-1 text). */
  add(scopeKey: string, hash: number, setKey: string, value: T): void {
    let byHash = this.#byScope.get(scopeKey);
    if (!byHash) {
      byHash = new Map();
      this.#byScope.set(scopeKey, byHash);
    }
    const entry = { setKey, value };
    const found = byHash.get(hash);
    if (found === undefined) byHash.set(hash, entry);
    else if (Array.isArray(found)) found.push(entry);
    else byHash.set(hash, [found, entry]);
  }

  /** Drops every entry whose value `keep` refuses. */
  prune(keep: (value: T) => boolean): void {
    for (const [scopeKey, byHash] of this.#byScope) {
      for (const [hash, found] of byHash) {
        const kept = (Array.isArray(found) ? found : [found]).filter((entry) => keep(entry.value));
        if (kept.length === 0) byHash.delete(hash);
        else byHash.set(hash, kept.length === 1 ? kept[0] : kept);
      }
      if (byHash.size === 0) this.#byScope.delete(scopeKey);
    }
  }
}

/** Whether Latin-1 `text` holds the bytes `bytes[start, end)`. */
function sameBytes(text: string, bytes: Uint8Array, start: number, end: number): boolean {
  if (text.length !== end - start) return false;
  for (let k = 0; k < text.length; k++) if (text.charCodeAt(k) !== bytes[start + k]) return false;
  return true;
}
