import { DecodeError } from '../../model/errors.js';
import { snappyDeclaredLength, uncompressSnappyInto } from './snappy-block.js';
import { SNAPPY_WASM } from './snappy-module.js';

/** Bytes after the block and after its output that moves of 8 or 16 bytes may touch. */
const SLACK = 16;

let compiled: WebAssembly.Module | undefined;

interface SnappyExports {
  readonly memory: WebAssembly.Memory;
  uncompress(pos: number, end: number, dst: number, length: number): number;
}

/**
 * Snappy blocks uncompressed by the WebAssembly module of `snappy.wat`: on remote-write
 * bodies of 1,000 samples, 9-22 ns a sample where `uncompressSnappyInto` takes 77-128
 * (alternating, in one process). Most of such a body is copies of 4-64 bytes, which
 * WebAssembly moves eight bytes at a time and JavaScript a byte at a time or through a call
 * (`copyWithin`).
 *
 * The module's memory holds the block and, after it, what it uncompresses to, each followed
 * by 16 bytes of slack. It grows to the largest body seen, as the buffer it replaced did. A
 * block it refuses is decoded again by `uncompressSnappyInto`, which says what is wrong and
 * at which byte (the fuzz tests hold the two to the same answers on damaged blocks).
 */
export class SnappyWasmDecoder {
  readonly #exports: SnappyExports;
  #bytes: Uint8Array;

  constructor() {
    compiled ??= new WebAssembly.Module(Buffer.from(SNAPPY_WASM, 'base64'));
    this.#exports = new WebAssembly.Instance(compiled).exports as unknown as SnappyExports;
    this.#bytes = new Uint8Array(this.#exports.memory.buffer);
  }

  /**
   * The bytes `block` uncompresses to: a view of this decoder's memory, valid until its next
   * call. A block that is not valid snappy, or declares more than `room` bytes, is a
   * `DecodeError` naming the byte.
   */
  uncompress(block: Uint8Array, room: number): Uint8Array {
    const { length, start } = snappyDeclaredLength(block);
    if (length < 0) throw new DecodeError(0, 'a snappy block', 'its length is not a varint');
    if (length > room)
      throw new DecodeError(
        0,
        'a snappy block',
        `it declares ${length} bytes, over the room given`,
      );
    const dst = (block.length + SLACK + 7) & ~7;
    const need = dst + length + SLACK;
    if (need > this.#bytes.length) {
      const memory = this.#exports.memory;
      memory.grow(Math.ceil((need - this.#bytes.length) / 65536));
      this.#bytes = new Uint8Array(memory.buffer);
    }
    this.#bytes.set(block, 0);
    if (this.#exports.uncompress(start, block.length, dst, length) === length)
      return this.#bytes.subarray(dst, dst + length);
    // Refused: the JavaScript decoder names the fault (and, should it take the block, its
    // answer is the one given).
    const out = new Uint8Array(length);
    return out.subarray(0, uncompressSnappyInto(block, out));
  }
}
