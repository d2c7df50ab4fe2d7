/**
 * A string-keyed memo for what translators work out once per series (labels, tag strings,
 * row prefixes). It forgets everything when it holds `limit` entries: series churn must not
 * grow memory for ever, and starting over costs one slow batch.
 */
export class BoundedCache<V> {
  readonly #limit: number;
  #map = new Map<string, V>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  get(key: string, make: () => V): V {
    let value = this.#map.get(key);
    if (value === undefined) {
      if (this.#map.size >= this.#limit) this.#map = new Map();
      value = make();
      this.#map.set(key, value);
    }
    return value;
  }
}
