import { GrowingBytes } from '../model/byte-pool.js';
import { type GrpcAnswer, GrpcStatus } from './grpc-wire.js';

/**
 * A unary call's request stream, read as its DATA arrives: the 5-byte prefix (compressed
 * flag, length), then the one message, copied into a block of the request buffers grown to
 * the declared length. Refuses, as soon as it can tell: a message over `limit` (by its
 * prefix), a compressed flag the encoding does not allow, and a second message.
 */
export class GrpcMessageReader {
  readonly #limit: number;
  readonly #encoding: string;
  readonly #prefix = Buffer.alloc(5);
  #prefixFilled = 0;
  /** The length the prefix declared; `#message` grows to it as bytes come. */
  #length = 0;
  readonly #message = new GrowingBytes();

  constructor(limit: number, encoding: string) {
    this.#limit = limit;
    this.#encoding = encoding;
  }

  /** Takes `bytes[start, end)`; an answer refusing the call when they break the framing. */
  take(bytes: Buffer, start: number, end: number): GrpcAnswer | undefined {
    let at = start;
    if (this.#prefixFilled < 5) {
      const taken = Math.min(5 - this.#prefixFilled, end - at);
      bytes.copy(this.#prefix, this.#prefixFilled, at, at + taken);
      this.#prefixFilled += taken;
      at += taken;
      if (this.#prefixFilled < 5) return undefined;
      const flag = this.#prefix[0];
      this.#length = this.#prefix.readUInt32BE(1);
      if (flag > 1 || (flag === 1 && this.#encoding === 'identity'))
        return this.#fail({
          code: GrpcStatus.INTERNAL,
          message: `message compressed flag ${flag} with grpc-encoding ${this.#encoding}`,
        });
      if (this.#length > this.#limit)
        return this.#fail({
          code: GrpcStatus.RESOURCE_EXHAUSTED,
          message: `message of ${this.#length} bytes exceeds the limit of ${this.#limit}`,
        });
    }
    const rest = end - at;
    if (rest === 0) return undefined;
    if (this.#message.length + rest > this.#length)
      return this.#fail({ code: GrpcStatus.INTERNAL, message: 'more than one request message' });
    this.#message.append(
      at === 0 && end === bytes.length ? bytes : bytes.subarray(at, end),
      0,
      this.#length,
    );
    return undefined;
  }

  /**
   * At the end of the stream: the message as it came (a block of `requestBytes`, the
   * caller's now) and its encoding (`identity` when not compressed), or the answer refusing
   * a stream that held no whole message.
   */
  finish(): { wire: Buffer; encoding: string } | GrpcAnswer {
    if (this.#prefixFilled < 5 || this.#message.length < this.#length)
      return this.#fail({
        code: GrpcStatus.INTERNAL,
        message:
          this.#prefixFilled < 5 ? 'no request message' : 'the request message was cut short',
      });
    return {
      wire: this.#message.take(),
      encoding: this.#prefix[0] === 1 ? this.#encoding : 'identity',
    };
  }

  /** Gives the block back: the call ended without its message being handled. */
  release(): void {
    this.#message.release();
  }

  #fail(answer: GrpcAnswer): GrpcAnswer {
    this.#message.release();
    return answer;
  }
}
