const MIN_SIZE = 64 * 1024;

/**
 * Reused buffers for request bodies. A body of a few hundred KiB allocated per request is
 * off-heap memory V8 answers with a young-generation collection ("external memory
 * pressure") every few dozen requests, and with mark-compacts of the whole heap; at
 * thousands of requests a second that was a tenth of the collector's main thread. A body is
 * only read while its request is handled (decoders copy what they keep), so its buffer can
 * serve the next one. At most `maxKept` buffers of at most `maxSize` bytes are kept.
 */
export class BodyBuffers {
  readonly #free: Buffer[] = [];
  readonly #maxKept: number;
  readonly #maxSize: number;

  constructor(maxKept = 16, maxSize = 4 * 1024 * 1024) {
    this.#maxKept = maxKept;
    this.#maxSize = maxSize;
  }

  /** The chunks joined in a buffer of at least their size (give it back when done). */
  join(chunks: readonly Buffer[], size: number): { body: Buffer; buffer: Buffer } {
    const buffer = this.#take(size);
    let at = 0;
    for (const chunk of chunks) at += chunk.copy(buffer, at);
    return { body: buffer.subarray(0, size), buffer };
  }

  give(buffer: Buffer): void {
    if (this.#free.length < this.#maxKept && buffer.length <= this.#maxSize) {
      this.#free.push(buffer);
    }
  }

  #take(size: number): Buffer {
    const free = this.#free;
    for (let k = free.length - 1; k >= 0; k--) {
      if (free[k].length >= size) {
        const buffer = free[k];
        free[k] = free[free.length - 1];
        free.pop();
        return buffer;
      }
    }
    let capacity = MIN_SIZE;
    while (capacity < size) capacity *= 2;
    return Buffer.allocUnsafeSlow(capacity);
  }
}
