import { badRequest, TOKEN } from './request-head.js';

enum State {
  Size,
  ExtensionName,
  ExtensionValueStart,
  ExtensionValue,
  QuotedValue,
  QuotedEscape,
  AfterQuotedValue,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerLineStart,
  TrailerName,
  TrailerValue,
  TrailerLf,
  FinalLf,
  Done,
}

/** Fields that frame a message: never taken from a trailer section. */
const FRAMING = new Set(['transfer-encoding', 'content-length', 'host', 'trailer']);

const CR = 0x0d;
const LF = 0x0a;

/** Chunk sizes are read to at most this many hex digits (2^40 bytes: far past any limit). */
const MAX_SIZE_DIGITS = 10;
/** Bytes of chunk extensions and trailer fields read (and ignored) per body, at most. */
const MAX_IGNORED_BYTES = 16 * 1024;

/**
 * Reads a `Transfer-Encoding: chunked` body (RFC 9112 §7.1) as it arrives, in pieces that
 * may split it anywhere. Chunk data goes to `onData`; extensions and trailer fields are
 * read and dropped (nothing here uses them), within `MAX_IGNORED_BYTES`. Framing that is not
 * exactly the grammar (a size that is not hex, a missing CRLF, a bare LF) throws a
 * `HeadError` with status 400.
 */
export class ChunkedBody {
  #state = State.Size;
  #size = 0;
  #digits = 0;
  #ignored = 0;
  #trailerName = '';
  #extensionLength = 0;

  /** The last chunk and the trailer section have been read. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /**
   * Reads `bytes[start, end)`; returns where it stopped: `end`, or just past the body when
   * the body ends inside the piece (the rest is the connection's next request).
   */
  feed(
    bytes: Uint8Array,
    start: number,
    end: number,
    onData: (bytes: Uint8Array, start: number, end: number) => void,
  ): number {
    let at = start;
    while (at < end) {
      const c = bytes[at] as number;
      switch (this.#state) {
        case State.Size: {
          const digit = hexValue(c);
          if (digit >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) throw badRequest('a chunk size too large');
            this.#size = this.#size * 16 + digit;
            at++;
            break;
          }
          if (this.#digits === 0) throw badRequest('a chunk without its size');
          if (c === CR) this.#state = State.SizeLf;
          // No whitespace around the size (Node's parser refuses it too).
          else if (c === 0x3b) this.#state = State.ExtensionName;
          else throw badRequest('a malformed chunk size');
          at++;
          break;
        }
        // Extensions: `;name` or `;name=value`, the value a token or a quoted string (RFC
        // 9112 §7.1.1), nothing between them; read and dropped.
        case State.ExtensionName:
          if (TOKEN[c]) this.#extensionLength++;
          else if (this.#extensionLength === 0) throw badRequest('a malformed chunk extension');
          else if (c === 0x3d) this.#state = State.ExtensionValueStart;
          else this.#extensionEnd(c);
          this.#ignore(1);
          at++;
          break;
        case State.ExtensionValueStart:
          if (c === 0x22) this.#state = State.QuotedValue;
          else if (TOKEN[c]) this.#state = State.ExtensionValue;
          else throw badRequest('a malformed chunk extension');
          this.#ignore(1);
          at++;
          break;
        case State.ExtensionValue:
          if (!TOKEN[c]) this.#extensionEnd(c);
          this.#ignore(1);
          at++;
          break;
        case State.QuotedValue:
          if (c === 0x22) this.#state = State.AfterQuotedValue;
          else if (c === 0x5c) this.#state = State.QuotedEscape;
          else if ((c < 0x20 && c !== 0x09) || c === 0x7f)
            throw badRequest('a malformed chunk extension');
          this.#ignore(1);
          at++;
          break;
        case State.QuotedEscape:
          if ((c < 0x20 && c !== 0x09) || c === 0x7f)
            throw badRequest('a malformed chunk extension');
          this.#state = State.QuotedValue;
          this.#ignore(1);
          at++;
          break;
        case State.AfterQuotedValue:
          this.#extensionEnd(c);
          this.#ignore(1);
          at++;
          break;
        case State.SizeLf:
          if (c !== LF) throw badRequest('a chunk size line without its LF');
          at++;
          this.#digits = 0;
          this.#state = this.#size === 0 ? State.TrailerLineStart : State.Data;
          break;
        case State.Data: {
          const take = Math.min(this.#size, end - at);
          onData(bytes, at, at + take);
          at += take;
          this.#size -= take;
          if (this.#size === 0) this.#state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (c !== CR) throw badRequest('chunk data longer than its size');
          this.#state = State.DataLf;
          at++;
          break;
        case State.DataLf:
          if (c !== LF) throw badRequest('chunk data without its CRLF');
          this.#state = State.Size;
          at++;
          break;
        case State.TrailerLineStart:
          // Trailer fields are header fields (`name: value`), read and dropped.
          at++;
          if (c === CR) this.#state = State.FinalLf;
          else if (TOKEN[c]) {
            this.#state = State.TrailerName;
            this.#trailerName = lowerChar(c);
          } else throw badRequest('a malformed trailer field');
          this.#ignore(1);
          break;
        case State.TrailerName:
          at++;
          if (c === 0x3a) {
            // A framing field sent late would frame the body differently for another parser.
            if (FRAMING.has(this.#trailerName))
              throw badRequest(`${this.#trailerName} in the trailer section`);
            this.#state = State.TrailerValue;
          } else if (!TOKEN[c]) throw badRequest('a malformed trailer field name');
          else this.#trailerName += lowerChar(c);
          this.#ignore(1);
          break;
        case State.TrailerValue:
          at++;
          if (c === CR) this.#state = State.TrailerLf;
          else if ((c < 0x20 && c !== 0x09) || c === 0x7f)
            throw badRequest('a control character in a trailer field');
          this.#ignore(1);
          break;
        case State.TrailerLf:
          if (c !== LF) throw badRequest('a trailer field without its LF');
          at++;
          this.#state = State.TrailerLineStart;
          break;
        case State.FinalLf:
          if (c !== LF) throw badRequest('a chunked body without its final CRLF');
          this.#state = State.Done;
          return at + 1;
        case State.Done:
          return at;
      }
    }
    return at;
  }

  /** After an extension: the next one, or the end of the size line. */
  #extensionEnd(c: number): void {
    this.#extensionLength = 0;
    if (c === 0x3b) this.#state = State.ExtensionName;
    else if (c === CR) this.#state = State.SizeLf;
    else throw badRequest('a malformed chunk extension');
  }

  #ignore(count: number): void {
    this.#ignored += count;
    if (this.#ignored > MAX_IGNORED_BYTES)
      throw badRequest(`more than ${MAX_IGNORED_BYTES} bytes of chunk extensions and trailers`);
  }
}

function lowerChar(c: number): string {
  return String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
