import { ErrorCode, Http2Error } from './frames.js';

/**
 * The static Huffman code of HPACK (RFC 7541 Appendix B), as the length of each symbol's
 * code: 256 bytes and EOS (256). The code is canonical (codes of one length are consecutive,
 * in symbol order), so the lengths determine it; `test/net/hpack.test.ts` checks the codes
 * this derives against the RFC's examples and against nghttp2's encoder.
 */
const CODE_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
  28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5,
  6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6,
  7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23,
  23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22,
  22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22,
  23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27,
  27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25,
  24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];
const EOS = 256;

/** Each symbol's code, aligned to the low bit, derived canonically from `CODE_LENGTHS`. */
export const HUFFMAN_CODES: readonly { code: number; bits: number }[] = canonicalCodes();

function canonicalCodes(): { code: number; bits: number }[] {
  const symbols = CODE_LENGTHS.map((_, symbol) => symbol).sort(
    (a, b) => CODE_LENGTHS[a] - CODE_LENGTHS[b] || a - b,
  );
  const codes: { code: number; bits: number }[] = [];
  let code = 0;
  let bits = CODE_LENGTHS[symbols[0]];
  for (const symbol of symbols) {
    code *= 2 ** (CODE_LENGTHS[symbol] - bits);
    bits = CODE_LENGTHS[symbol];
    codes[symbol] = { code, bits };
    code++;
  }
  return codes;
}

/**
 * The code as a binary tree, flattened: node n's children are at `2n` (bit 0) and `2n + 1`
 * (bit 1); a positive entry is the child node, a negative one the leaf `-(symbol + 1)`.
 */
const TREE = buildTree();

function buildTree(): Int32Array {
  const tree = new Int32Array(2 * CODE_LENGTHS.length);
  let nodes = 1;
  HUFFMAN_CODES.forEach(({ code, bits }, symbol) => {
    let node = 0;
    for (let bit = bits - 1; bit >= 0; bit--) {
      const slot = 2 * node + (Math.floor(code / 2 ** bit) & 1);
      if (bit === 0) tree[slot] = -(symbol + 1);
      else {
        if (tree[slot] === 0) tree[slot] = nodes++;
        node = tree[slot];
      }
    }
  });
  return tree;
}

/**
 * Decodes the Huffman-coded string `bytes[start, end)` (latin1, one char a byte). Refuses
 * what RFC 7541 §5.2 calls an error: the EOS symbol, and padding longer than 7 bits or not
 * all ones.
 */
export function huffmanDecode(bytes: Uint8Array, start: number, end: number): string {
  const out = Buffer.allocUnsafe(Math.ceil(((end - start) * 8) / 5));
  let length = 0;
  let node = 0;
  /** Bits read since the last symbol, and whether all were ones (the padding rule). */
  let pending = 0;
  let allOnes = true;
  for (let at = start; at < end; at++) {
    const byte = bytes[at];
    for (let bit = 7; bit >= 0; bit--) {
      const one = (byte >> bit) & 1;
      const next = TREE[2 * node + one];
      pending++;
      allOnes &&= one === 1;
      if (next < 0) {
        const symbol = -next - 1;
        if (symbol === EOS) throw huffmanError('holds the EOS symbol');
        out[length++] = symbol;
        node = 0;
        pending = 0;
        allOnes = true;
      } else node = next;
    }
  }
  if (pending > 7) throw huffmanError(`ends with ${pending} bits of padding (at most 7)`);
  if (!allOnes) throw huffmanError('ends with padding that is not all ones');
  return out.toString('latin1', 0, length);
}

function huffmanError(what: string): Http2Error {
  return new Http2Error(ErrorCode.COMPRESSION_ERROR, `a Huffman-coded string ${what}`);
}
