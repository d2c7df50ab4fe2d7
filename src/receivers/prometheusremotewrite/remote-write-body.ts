import { RemoteWriteWasm } from '../../codec/prometheus/remote-write-wasm.js';
import { snappyDeclaredLength } from '../../codec/prometheus/snappy-block.js';
import { DecodeError, InvalidArgumentError } from '../../model/errors.js';
import { BodyTooLargeError } from '../body-too-large.js';

/**
 * Remote-write bodies as sent (`content-encoding` snappy, the protocol's, or identity) →
 * the `WriteRequest` bytes, uncompressed into memory reused request after request (the
 * WebAssembly decoder's): a fresh buffer of a hundred kilobytes per request was memory the
 * process kept mapping and collecting (measured: more CPU than decompressing). A snappy
 * block declares its uncompressed length up front, so a body that would inflate past
 * `limit` is refused before anything is written; a corrupt block is a `DecodeError` like
 * any other bad byte.
 */
export class RemoteWriteBodies {
  /** Also checks what it uncompressed, in place (the receiver's `RemoteWriteValidator`). */
  readonly wasm = new RemoteWriteWasm();

  /**
   * The `WriteRequest` bytes of `body`: `body` itself when not compressed, else a view of
   * this object's buffer, valid until the next call (copy what must outlive it).
   */
  uncompress(body: Uint8Array, encoding: string, limit: number): Uint8Array {
    if (encoding === 'identity') return body;
    if (encoding !== 'snappy') {
      throw new InvalidArgumentError(
        'content-encoding',
        encoding,
        'snappy (the remote write protocol) or identity',
      );
    }
    const { length } = snappyDeclaredLength(body);
    if (length < 0)
      throw new DecodeError(
        0,
        'a snappy block',
        'its length header is not a varint of at most 5 bytes',
      );
    if (length > limit) {
      throw new BodyTooLargeError(
        `uncompressed size ${length} exceeds max_request_body_size ${limit} bytes`,
      );
    }
    return this.wasm.uncompress(body, limit);
  }
}
