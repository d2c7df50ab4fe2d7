const CHUNK = 8192;

/**
 * The outputs' histogram bucket counts, as views into shared 64 KiB chunks. A
 * `Float64Array` of its own per output is a separate allocation somewhere in memory (and
 * one indirection more), and merging a point into it was the aggregate's costliest cache
 * miss; outputs made one after another get neighbouring counts here, and senders repeat
 * their series in the order they were first seen.
 */
export class CountsPool {
  #chunk = new Float64Array(CHUNK);
  #used = 0;

  /** `length` zeroed counts. */
  take(length: number): Float64Array {
    if (this.#used + length > this.#chunk.length) {
      this.#chunk = new Float64Array(Math.max(CHUNK, length));
      this.#used = 0;
    }
    const counts = this.#chunk.subarray(this.#used, this.#used + length);
    this.#used += length;
    return counts;
  }

  /**
   * A pool holding copies of `outputs`' counts (which now point at them): after outputs were
   * forgotten, the chunks only they used can go.
   */
  static repack(outputs: readonly { counts?: Float64Array }[]): CountsPool {
    const pool = new CountsPool();
    for (const out of outputs) {
      if (!out.counts) continue;
      const counts = pool.take(out.counts.length);
      counts.set(out.counts);
      out.counts = counts;
    }
    return pool;
  }
}
