import { HUFFMAN_CODES } from '../../src/net/http2/huffman.js';

// HTTP/2 as a client writes it, by hand: frames and HPACK blocks with every representation
// (indexed, literal with and without indexing, never indexed, Huffman or not, size updates),
// for tests and fuzzing that must send what real clients send and what they never would.

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export function h2Frame(
  type: number,
  flags: number,
  stream: number,
  payload: Uint8Array = Buffer.alloc(0),
): Buffer {
  const out = Buffer.alloc(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(stream, 5);
  out.set(payload, 9);
  return out;
}

export function settings(values: [number, number][] = []): Buffer {
  const payload = Buffer.alloc(values.length * 6);
  values.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return h2Frame(4, 0, 0, payload);
}

export function windowUpdate(stream: number, increment: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(increment);
  return h2Frame(8, 0, stream, payload);
}

export function rstStream(stream: number, code: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return h2Frame(3, 0, stream, payload);
}

/** The frames a client's connection starts with: the preface and its SETTINGS. */
export function clientStart(values: [number, number][] = []): Buffer {
  return Buffer.concat([PREFACE, settings(values)]);
}

export interface FieldChoice {
  /** How the field is written; `indexed` falls back to `incremental` when the table lacks it. */
  how: 'indexed' | 'incremental' | 'without' | 'never';
  huffman: boolean;
}

const STATIC_NAMES = [
  ':authority',
  ':method',
  ':method',
  ':path',
  ':path',
  ':scheme',
  ':scheme',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'accept-ranges',
  'accept',
  'access-control-allow-origin',
  'age',
  'allow',
  'authorization',
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-range',
  'content-type',
  'cookie',
  'date',
  'etag',
  'expect',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'link',
  'location',
  'max-forwards',
  'proxy-authenticate',
  'proxy-authorization',
  'range',
  'referer',
  'refresh',
  'retry-after',
  'server',
  'set-cookie',
  'strict-transport-security',
  'transfer-encoding',
  'user-agent',
  'vary',
  'via',
  'www-authenticate',
];
const STATIC_VALUES: Record<number, string> = {
  2: 'GET',
  3: 'POST',
  4: '/',
  5: '/index.html',
  6: 'http',
  7: 'https',
  8: '200',
  9: '204',
  10: '206',
  11: '304',
  12: '400',
  13: '404',
  14: '500',
  16: 'gzip, deflate',
};

/** A client's HPACK encoder, keeping its dynamic table as the server's decoder must. */
export class HpackWriter {
  readonly #table: [string, string][] = [];
  #size = 0;
  #max = 4096;

  /** A header block; `sizeUpdate` starts it with a dynamic table size update. */
  block(
    fields: [string, string][],
    choose: (i: number) => FieldChoice,
    sizeUpdate?: number,
  ): Buffer {
    const out: number[] = [];
    if (sizeUpdate !== undefined) {
      integer(out, sizeUpdate, 5, 0x20);
      this.#max = sizeUpdate;
      this.#evict(0);
    }
    fields.forEach(([name, value], i) => {
      const { how, huffman } = choose(i);
      const whole = this.#find(name, value);
      if (how === 'indexed' && whole > 0) {
        integer(out, whole, 7, 0x80);
        return;
      }
      const nameIndex = this.#find(name);
      const [prefix, pattern] =
        how === 'never' ? [4, 0x10] : how === 'without' ? [4, 0x00] : [6, 0x40];
      integer(out, nameIndex, prefix, pattern);
      if (nameIndex === 0) text(out, name, huffman);
      text(out, value, huffman);
      if (how === 'incremental' || how === 'indexed') this.#insert(name, value);
    });
    return Buffer.from(out);
  }

  /** The index of `name` with `value` (or of `name` alone when `value` is not given), or 0. */
  #find(name: string, value?: string): number {
    for (let i = 0; i < STATIC_NAMES.length; i++)
      if (
        STATIC_NAMES[i] === name &&
        (value === undefined || (STATIC_VALUES[i + 1] ?? '') === value)
      )
        return i + 1;
    for (let i = this.#table.length - 1; i >= 0; i--) {
      const [n, v] = this.#table[i];
      if (n === name && (value === undefined || v === value))
        return STATIC_NAMES.length + (this.#table.length - i);
    }
    return 0;
  }

  #insert(name: string, value: string): void {
    const size = name.length + value.length + 32;
    this.#evict(size);
    if (size <= this.#max) {
      this.#table.push([name, value]);
      this.#size += size;
    }
  }

  #evict(room: number): void {
    while (this.#table.length > 0 && this.#size + room > this.#max) {
      const [n, v] = this.#table.shift() as [string, string];
      this.#size -= n.length + v.length + 32;
    }
  }
}

function integer(out: number[], value: number, prefixBits: number, pattern: number): void {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out.push(pattern | value);
    return;
  }
  out.push(pattern | mask);
  let rest = value - mask;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  out.push(rest);
}

function text(out: number[], value: string, huffman: boolean): void {
  const bytes = Buffer.from(value, 'latin1');
  if (!huffman) {
    integer(out, bytes.length, 7, 0);
    out.push(...bytes);
    return;
  }
  const coded = huffmanEncode(bytes);
  integer(out, coded.length, 7, 0x80);
  out.push(...coded);
}

/** RFC 7541 §5.2: codes packed from the high bit, the last byte padded with ones. */
export function huffmanEncode(bytes: Uint8Array): Buffer {
  const out: number[] = [];
  let current = 0;
  let filled = 0;
  for (const byte of bytes) {
    const { code, bits } = HUFFMAN_CODES[byte];
    for (let bit = bits - 1; bit >= 0; bit--) {
      current = (current << 1) | (Math.floor(code / 2 ** bit) & 1);
      if (++filled === 8) {
        out.push(current);
        current = 0;
        filled = 0;
      }
    }
  }
  if (filled > 0) out.push((current << (8 - filled)) | ((1 << (8 - filled)) - 1));
  return Buffer.from(out);
}

/** A frame as the server sent it. */
export interface ServerFrame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/**
 * A raw client connection: sends bytes as given and parses what the server sends into frames
 * (after an HTTP/1.1 answer, `text` holds it instead).
 */
export class RawH2 {
  readonly frames: ServerFrame[] = [];
  text = '';
  closed = false;
  #pending = Buffer.alloc(0);
  readonly socket: import('node:net').Socket;

  private constructor(socket: import('node:net').Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('latin1');
      this.#pending = Buffer.concat([this.#pending, chunk]);
      while (this.#pending.length >= 9) {
        const length = this.#pending.readUIntBE(0, 3);
        if (this.#pending.length < 9 + length) break;
        this.frames.push({
          type: this.#pending[3],
          flags: this.#pending[4],
          stream: this.#pending.readUInt32BE(5) & 0x7fffffff,
          payload: this.#pending.subarray(9, 9 + length),
        });
        this.#pending = this.#pending.subarray(9 + length);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static async connect(address: string): Promise<RawH2> {
    const { connect } = await import('node:net');
    const [host, port] = address.split(':');
    const socket = connect(Number(port), host);
    await new Promise((resolve) => socket.once('connect', resolve));
    return new RawH2(socket);
  }

  send(...chunks: Buffer[]): void {
    for (const chunk of chunks) this.socket.write(chunk);
  }

  /** Waits until `check` holds (polling), failing after `ms`. */
  async until(check: () => boolean, what: string, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** The first frame of `type` (on `stream`, when given) the server sent. */
  find(type: number, stream?: number): ServerFrame | undefined {
    return this.frames.find(
      (f) => f.type === type && (stream === undefined || f.stream === stream),
    );
  }

  /** The error code of the RST_STREAM the server sent on `stream`, or of its GOAWAY (stream 0). */
  errorCode(stream: number): number | undefined {
    const frame = stream === 0 ? this.find(7) : this.find(3, stream);
    if (!frame) return undefined;
    return frame.payload.readUInt32BE(stream === 0 ? 4 : 0);
  }

  close(): void {
    this.socket.destroy();
  }
}
