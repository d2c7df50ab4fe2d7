import { DecodeError } from '../model/errors.js';
import { WireReader } from '../model/wire-reader.js';

/**
 * What the relay's request validators share (`OtlpRequestValidator`, `RemoteWriteValidator`).
 *
 * `NOT_TAKEN` is thrown for what a validator does not take although it may be valid (an
 * unknown field): like a `DecodeError` from the reader, it ends the check, and the caller
 * decodes the body, which refuses it with the decoder's message or reads it.
 */
export const NOT_TAKEN = new DecodeError(0, 'only the fields the relay carries');

const NOTHING = new Uint8Array(0);

/**
 * Runs a validator's `walk` over `body` with `reader` (the validator's own, reused request
 * after request) reset to it: whether the walk took the body. A `DecodeError` — the reader's,
 * or `NOT_TAKEN` — means it did not; the reader lets go of the body afterwards.
 */
export function walkBody(
  reader: WireReader,
  body: Uint8Array,
  walk: (reader: WireReader, end: number) => boolean,
): boolean {
  try {
    return walk(reader.reset(body), body.length);
  } catch (err) {
    if (err instanceof DecodeError) return false;
    throw err;
  } finally {
    reader.reset(NOTHING);
  }
}

/** A reader for `walkBody`, over no body yet. */
export function idleReader(): WireReader {
  return new WireReader(NOTHING);
}

/** The series keys of one request, gathered into a list reused request after request. */
export class SeriesKeyList {
  #keys = new Int32Array(1024);
  #count = 0;

  clear(): void {
    this.#count = 0;
  }

  push(key: number): void {
    if (this.#count === this.#keys.length) {
      const grown = new Int32Array(this.#keys.length * 2);
      grown.set(this.#keys);
      this.#keys = grown;
    }
    this.#keys[this.#count++] = key;
  }

  /** The keys gathered, as the request's own copy; `undefined` when there are none. */
  take(): Int32Array | undefined {
    return this.#count > 0 ? this.#keys.slice(0, this.#count) : undefined;
  }
}
