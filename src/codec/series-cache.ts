import { bytesKey } from '../model/key-value-bytes.js';

/**
 * What translators work out once per OTel series (labels, tag strings, row prefixes),
 * remembered across batches. Keyed in two steps: a context string (resource, scope, metric),
 * looked up once per metric and batch, then the series' attribute bytes — so the per-point
 * key is the attributes alone, not a long string built and hashed for every point.
 *
 * It forgets everything when it holds `limit` entries: series churn must not grow memory for
 * ever, and starting over costs one slow batch.
 */
export class SeriesCache<V> {
  readonly #limit: number;
  #contexts = new Map<string, Map<string, V>>();
  #size = 0;

  constructor(limit = 100_000) {
    this.#limit = limit;
  }

  /** The entries of one context: look it up once per metric of a batch, then `get` with it. */
  context(key: string): Map<string, V> {
    let entries = this.#contexts.get(key);
    if (entries === undefined) {
      entries = new Map();
      this.#contexts.set(key, entries);
    }
    return entries;
  }

  get(context: Map<string, V>, attributes: Uint8Array, make: () => V): V {
    const key = bytesKey(attributes);
    let value = context.get(key);
    if (value === undefined) {
      if (this.#size >= this.#limit) this.#forget();
      value = make();
      context.set(key, value);
      this.#size++;
    }
    return value;
  }

  /** Starts over; a context map a caller still holds keeps working for its batch. */
  #forget(): void {
    for (const entries of this.#contexts.values()) entries.clear();
    this.#contexts = new Map();
    this.#size = 0;
  }
}
