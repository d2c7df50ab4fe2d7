import { requestBytes } from '../../model/byte-pool.js';
import { DecodeError } from '../../model/errors.js';
import { varintSize, writeVarint } from '../../model/wire.js';

/**
 * The uncompressed length a snappy block declares in its leading varint, and where the
 * compressed elements start; -1 for a length that is not a varint of at most 32 bits.
 */
export function snappyDeclaredLength(block: Uint8Array): { length: number; start: number } {
  let length = 0;
  for (let i = 0, shift = 0; i < 5 && i < block.length; i++, shift += 7) {
    const b = block[i];
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return { length, start: i + 1 };
  }
  return { length: -1, start: 0 };
}

/**
 * Decompresses a snappy block (the format remote write uses) into `out[0, length)`, where
 * `length` is the block's declared length (`snappyDeclaredLength`) and `out` has room for
 * it: a receiver reuses one buffer for every request instead of a fresh one each (a body
 * it relays is kept compressed). Every copy is checked against what was written so far and
 * the declared length, so damaged input throws a `DecodeError` naming the byte, never reads
 * or writes out of bounds; the result must fill the declared length exactly.
 */
export function uncompressSnappyInto(block: Uint8Array, out: Uint8Array): number {
  const { length, start } = snappyDeclaredLength(block);
  if (length < 0) throw new DecodeError(0, 'a snappy block', 'its length is not a varint');
  if (length > out.length)
    throw new DecodeError(0, 'a snappy block', `it declares ${length} bytes, over the room given`);
  const end = block.length;
  let pos = start;
  let written = 0;
  while (pos < end) {
    const tag = block[pos++];
    const kind = tag & 3;
    if (kind === 0) {
      // Literal: length - 1 in the upper six bits, or in the 1-4 bytes that follow (60-63).
      let literal = tag >>> 2;
      if (literal >= 60) {
        const bytes = literal - 59;
        if (pos + bytes > end) throw failure(pos, 'a literal length', 'the block ends early');
        literal = 0;
        for (let k = 0; k < bytes; k++) literal += block[pos + k] * 2 ** (8 * k);
        pos += bytes;
      }
      literal += 1;
      if (pos + literal > end)
        throw failure(pos, `${literal} literal bytes`, 'the block ends early');
      if (written + literal > length) throw failure(pos, 'the declared length', 'more bytes');
      if (literal < 16) for (let k = 0; k < literal; k++) out[written + k] = block[pos + k];
      else out.set(block.subarray(pos, pos + literal), written);
      pos += literal;
      written += literal;
      continue;
    }
    let copy: number;
    let offset: number;
    if (kind === 1) {
      // Copy with a 1-byte offset: length 4-11, offset 11 bits.
      if (pos >= end) throw failure(pos, 'a copy offset', 'the block ends early');
      copy = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | block[pos++];
    } else if (kind === 2) {
      if (pos + 2 > end) throw failure(pos, 'a copy offset', 'the block ends early');
      copy = (tag >>> 2) + 1;
      offset = block[pos] | (block[pos + 1] << 8);
      pos += 2;
    } else {
      if (pos + 4 > end) throw failure(pos, 'a copy offset', 'the block ends early');
      copy = (tag >>> 2) + 1;
      offset =
        (block[pos] | (block[pos + 1] << 8) | (block[pos + 2] << 16)) + block[pos + 3] * 2 ** 24;
      pos += 4;
    }
    if (offset === 0 || offset > written)
      throw failure(pos, 'a copy from bytes already written', `offset ${offset}`);
    if (written + copy > length) throw failure(pos, 'the declared length', 'more bytes');
    let from = written - offset;
    // `copyWithin` is a call into C++ that costs about as much as copying 16 bytes one by one
    // (a quarter of the copies in remote-write bodies are 4-11 bytes): shorter copies, and
    // overlapping ones (a run, where each copied byte may be read again), go byte by byte.
    // Measured on 1000-sample bodies: 80 ns a sample with `copyWithin` for every copy, 74 so.
    if (offset >= copy && copy > 16) out.copyWithin(written, from, from + copy);
    else for (let k = 0; k < copy; k++) out[written + k] = out[from++];
    written += copy;
  }
  if (written !== length)
    throw failure(pos, `${length} bytes as declared`, `the block holds ${written}`);
  return length;
}

/**
 * One snappy block that uncompresses to the uncompressed `blocks` one after another, made
 * without uncompressing anything: a block is its declared length and then elements (literals,
 * and copies from at most that far back in what the block itself wrote), so the elements of
 * several blocks in a row are a valid block of the summed length. Each block must be whole
 * and valid (`uncompressSnappyInto` took it): its elements must end exactly at its length.
 */
export function joinSnappyBlocks(blocks: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  let size = 0;
  const starts: number[] = [];
  for (const block of blocks) {
    const declared = snappyDeclaredLength(block);
    if (declared.length < 0)
      throw new DecodeError(0, 'a snappy block', 'its length is not a varint');
    length += declared.length;
    size += block.length - declared.start;
    starts.push(declared.start);
  }
  if (length > 0xffffffff)
    throw new DecodeError(0, 'snappy blocks to join', `${length} bytes in all, over 2^32 - 1`);
  // Every byte is written below. A block the delivery engine gives back once it is sent.
  const out = requestBytes.take(varintSize(length) + size);
  let at = writeVarint(out, 0, length);
  blocks.forEach((block, k) => {
    out.set(block.subarray(starts[k]), at);
    at += block.length - starts[k];
  });
  return out;
}

/** A snappy block uncompressed into a buffer of its own, of its declared length. */
export function uncompressSnappy(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.max(0, snappyDeclaredLength(block).length));
  uncompressSnappyInto(block, out);
  return out;
}

function failure(at: number, expected: string, detail: string): DecodeError {
  return new DecodeError(at, `${expected} (snappy)`, detail);
}
