import type { AttributeLimits } from '../../model/attribute-limits.js';
import { DecodeError } from '../../model/errors.js';
import { REMOTE_WRITE_CHECK_WASM } from './remote-write-check-module.js';
import { snappyDeclaredLength, uncompressSnappyInto } from './snappy-block.js';
import { SNAPPY_WASM } from './snappy-module.js';

/** Bytes after the block and after its output that moves of 8 or 16 bytes may touch. */
const SLACK = 16;

/** `#output` while there is none to check (the last block was refused). */
const NO_OUTPUT = new Uint8Array(0);

let modules: { snappy: WebAssembly.Module; check: WebAssembly.Module } | undefined;

interface SnappyExports {
  uncompress(pos: number, end: number, dst: number, length: number): number;
}

interface CheckExports {
  readonly samples: WebAssembly.Global;
  check(
    start: number,
    end: number,
    keys: number,
    room: number,
    maxLabels: number,
    maxValueBytes: number,
  ): number;
}

/** What `RemoteWriteWasm.check` found: the request's samples and its series' keys. */
export interface CheckedWriteRequest {
  readonly points: number;
  readonly seriesKeys: Int32Array | undefined;
}

/**
 * The remote-write receiver's work on a body in WebAssembly, in one memory: `snappy.wat`
 * uncompresses the block, and `remote-write-check.wat` checks the `WriteRequest` where it
 * was written, as `RemoteWriteValidator` would, without a copy. On bodies of 1,000 samples
 * in one process: uncompressing 8.5 ns a sample against `uncompressSnappyInto`'s 78, checking
 * 60-63 against the JavaScript validator's 80-85.
 *
 * Most of a remote-write body is snappy copies of 4-64 bytes, which WebAssembly moves eight
 * bytes at a time and JavaScript a byte at a time or through a call (`copyWithin`). A block
 * the module refuses is decoded again by `uncompressSnappyInto`, which says what is wrong
 * and at which byte.
 *
 * The memory holds the block, then what it uncompresses to, then room for the series' keys,
 * each followed by 16 bytes of slack. It grows to the largest body seen, as the buffer it
 * replaced did. The fuzz tests hold both modules to their JavaScript counterparts' answers.
 */
export class RemoteWriteWasm {
  readonly #memory: WebAssembly.Memory;
  readonly #snappy: SnappyExports;
  readonly #check: CheckExports;
  #bytes: Uint8Array;
  /** The last output (`uncompress`) and the room for its keys after it. */
  #output: Uint8Array = NO_OUTPUT;
  #keysAt = 0;
  #keysRoom = 0;

  constructor() {
    modules ??= {
      snappy: new WebAssembly.Module(Buffer.from(SNAPPY_WASM, 'base64')),
      check: new WebAssembly.Module(Buffer.from(REMOTE_WRITE_CHECK_WASM, 'base64')),
    };
    // The snappy module's memory, which the check imports.
    const snappy = new WebAssembly.Instance(modules.snappy);
    this.#memory = snappy.exports.memory as WebAssembly.Memory;
    this.#snappy = snappy.exports as unknown as SnappyExports;
    this.#check = new WebAssembly.Instance(modules.check, { env: { memory: this.#memory } })
      .exports as unknown as CheckExports;
    this.#bytes = new Uint8Array(this.#memory.buffer);
  }

  /**
   * The bytes `block` uncompresses to: a view of this object's memory, valid until its next
   * `uncompress`. A block that is not valid snappy, or declares more than `room` bytes, is a
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
    const keysAt = (dst + length + SLACK + 7) & ~7;
    // A labelled series takes at least 4 bytes and usually dozens: room for one key per 16
    // bytes; a request with more is checked by the JavaScript validator.
    const keysRoom = (length >>> 4) + 64;
    const need = keysAt + 4 * keysRoom;
    if (need > this.#bytes.length) {
      this.#memory.grow(Math.ceil((need - this.#bytes.length) / 65536));
      this.#bytes = new Uint8Array(this.#memory.buffer);
    }
    this.#bytes.set(block, 0);
    this.#output = NO_OUTPUT;
    if (this.#snappy.uncompress(start, block.length, dst, length) !== length) {
      // Refused: the JavaScript decoder names the fault (and, should it take the block, its
      // answer is the one given).
      const out = new Uint8Array(length);
      return out.subarray(0, uncompressSnappyInto(block, out));
    }
    this.#output = this.#bytes.subarray(dst, dst + length);
    this.#keysAt = keysAt;
    this.#keysRoom = keysRoom;
    return this.#output;
  }

  /**
   * Checks `body` as `RemoteWriteValidator` does, when it is the output of the last
   * `uncompress`: the request's samples and keys, or `false` when the check does not take
   * it (decode it instead). `undefined`: not this object's output, text beyond ASCII (the
   * JavaScript validator checks it as UTF-8), or more series than the room for keys — ask the
   * JavaScript validator.
   */
  check(body: Uint8Array, limits: AttributeLimits): CheckedWriteRequest | false | undefined {
    const output = this.#output;
    if (body !== output || output === NO_OUTPUT) return undefined;
    let keys: number;
    try {
      keys = this.#check.check(
        output.byteOffset,
        output.byteOffset + output.length,
        this.#keysAt,
        this.#keysRoom,
        Math.min(limits.maxAttributes, 0x7fffffff),
        Math.min(limits.maxValueBytes, 0x7fffffff),
      );
    } catch (err) {
      if (err instanceof WebAssembly.RuntimeError) return false;
      throw err;
    }
    if (keys < 0) return undefined;
    return {
      points: this.#check.samples.value,
      seriesKeys:
        keys > 0 ? new Int32Array(this.#memory.buffer, this.#keysAt, keys).slice() : undefined,
    };
  }
}
