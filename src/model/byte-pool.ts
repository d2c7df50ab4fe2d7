/**
 * Request-sized byte buffers reused across the process. A relayed request lives in them from
 * its receiver to its exporter: the receiver reads a body into one, the request carries it
 * to the queue, the queue joins requests into another, and each goes back once it is sent
 * (`DeliveryEngine` gives them back). A fresh buffer of hundreds of kilobytes is memory the
 * allocator maps and the kernel faults in page by page: measured on a 210 KB OTLP body,
 * copying it into a fresh buffer cost 167 µs and into a reused one 6 µs; joining eight of
 * them, 627 µs against 35 µs — in a relay, more CPU than checking the body.
 *
 * Blocks come in sizes of four steps per power of two from `minSize` (so at most a quarter
 * is unused), and at most `maxFreeBytes` of them wait to be reused. Only this pool's own
 * blocks are taken back, each once: `give` ignores anything else, so code that does not
 * know where a buffer came from may give it. What must hold is that nothing reads a block
 * once it was given: bytes shared by two holders (a request fanned out to two exporters)
 * are copied for the second.
 */
export class BytePool {
  readonly #minSize: number;
  readonly #maxSize: number;
  readonly #maxFreeBytes: number;
  readonly #free = new Map<number, ArrayBuffer[]>();
  #freeBytes = 0;
  /** Blocks this pool made, and those of them waiting to be reused (to refuse a second give). */
  readonly #made = new WeakSet<ArrayBuffer>();
  readonly #waiting = new WeakSet<ArrayBuffer>();

  constructor(options: { minSize: number; maxSize: number; maxFreeBytes: number }) {
    this.#minSize = options.minSize;
    this.#maxSize = options.maxSize;
    this.#maxFreeBytes = options.maxFreeBytes;
  }

  /** Bytes waiting to be reused. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /**
   * `size` bytes, not zeroed: the caller writes every one. At its start a block of the pool
   * (when `size` is within its sizes), else a buffer of its own.
   */
  take(size: number): Buffer {
    if (size < this.#minSize || size > this.#maxSize) return Buffer.allocUnsafeSlow(size);
    const blockSize = this.#blockSize(size);
    const free = this.#free.get(blockSize);
    const reused = free?.pop();
    if (reused) {
      this.#waiting.delete(reused);
      this.#freeBytes -= blockSize;
      return Buffer.from(reused, 0, size);
    }
    // Not zero-filled, as `take` promises nothing of the contents (a block is written whole
    // before it is read; `new ArrayBuffer` would clear megabytes for nothing).
    const block = Buffer.allocUnsafeSlow(blockSize).buffer as ArrayBuffer;
    this.#made.add(block);
    return Buffer.from(block, 0, size);
  }

  /** `bytes` copied into a buffer from `take`. */
  copy(bytes: Uint8Array): Buffer {
    const out = this.take(bytes.length);
    out.set(bytes);
    return out;
  }

  /** The block behind `bytes` back for reuse: nothing may read it after this. */
  give(bytes: Uint8Array): void {
    const block = bytes.buffer;
    if (!(block instanceof ArrayBuffer) || !this.#made.has(block) || this.#waiting.has(block))
      return;
    if (this.#freeBytes + block.byteLength > this.#maxFreeBytes) return;
    let free = this.#free.get(block.byteLength);
    if (!free) {
      free = [];
      this.#free.set(block.byteLength, free);
    }
    free.push(block);
    this.#waiting.add(block);
    this.#freeBytes += block.byteLength;
  }

  /** The smallest block size of the form 2^k · (4 + j) / 4 (j = 0..3) holding `size`. */
  #blockSize(size: number): number {
    const power = 2 ** Math.floor(Math.log2(size));
    const step = power / 4;
    return Math.ceil(size / step) * step;
  }
}

/**
 * The process's pool for request bytes: bodies and joined requests of 64 KiB to 64 MiB, at
 * most 64 MiB of them kept for reuse.
 */
export const requestBytes = new BytePool({
  minSize: 64 * 1024,
  maxSize: 64 * 1024 * 1024,
  maxFreeBytes: 64 * 1024 * 1024,
});

/** The block a request read in pieces starts at (most exports fit); larger ones double it. */
export const FIRST_BLOCK_BYTES = 256 * 1024;

/**
 * Bytes that arrive in pieces (a body's chunks, a gRPC message's frames), copied into a block
 * of `requestBytes` as they come rather than kept as the pieces until the end: the pieces are
 * the socket's buffers, and holding a request's worth of them until its last one arrives is
 * external memory that scavenges cannot free — what sent grpc-js's receiver into a
 * mark-compact every quarter of a second. The block starts at `firstSize` (at most
 * `FIRST_BLOCK_BYTES`) and doubles as bytes arrive, so a declared size is never taken on
 * trust: 5 bytes cannot claim the limit.
 */
export class GrowingBytes {
  #block: Buffer | undefined;
  #filled = 0;
  readonly #firstSize: number;

  constructor(firstSize = FIRST_BLOCK_BYTES) {
    this.#firstSize = Math.min(firstSize, FIRST_BLOCK_BYTES);
  }

  /** Bytes so far. */
  get length(): number {
    return this.#filled;
  }

  /** Appends `chunk` from `from`, growing the block to at most `max` bytes (the caller checked). */
  append(chunk: Uint8Array, from: number, max: number): void {
    const rest = chunk.length - from;
    const needed = this.#filled + rest;
    let block = this.#block;
    if (!block) {
      block = requestBytes.take(Math.min(max, Math.max(this.#firstSize, needed)));
      this.#block = block;
    } else if (needed > block.length) {
      const grown = requestBytes.take(Math.min(max, Math.max(2 * block.length, needed)));
      block.copy(grown, 0, 0, this.#filled);
      requestBytes.give(block);
      block = grown;
      this.#block = block;
    }
    block.set(from === 0 ? chunk : chunk.subarray(from), this.#filled);
    this.#filled = needed;
  }

  /**
   * The bytes (a view of the block, `requestBytes`' to take back once done), handed over:
   * this holds nothing from now on.
   */
  take(): Buffer {
    const bytes = this.#block?.subarray(0, this.#filled) ?? Buffer.alloc(0);
    this.#block = undefined;
    this.#filled = 0;
    return bytes;
  }

  /** Gives the block back (the bytes will not be used). */
  release(): void {
    if (this.#block) requestBytes.give(this.#block);
    this.#block = undefined;
    this.#filled = 0;
  }
}

/**
 * Every chunk of `source` in one block of the request buffers (`GrowingBytes`), which starts
 * at `declared` bytes when that is a size (else `FIRST_BLOCK_BYTES`); `tooLarge()` is thrown
 * once more than `limit` bytes came.
 */
export async function readWhole(
  source: AsyncIterable<Buffer>,
  declared: number,
  limit: number,
  tooLarge: () => Error,
): Promise<Buffer> {
  const bytes = new GrowingBytes(declared > 0 ? declared : FIRST_BLOCK_BYTES);
  try {
    for await (const chunk of source) {
      if (bytes.length + chunk.length > limit) throw tooLarge();
      bytes.append(chunk, 0, limit);
    }
  } catch (err) {
    bytes.release();
    throw err;
  }
  return bytes.take();
}
