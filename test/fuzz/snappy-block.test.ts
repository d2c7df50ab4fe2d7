import fc from 'fast-check';
import { compressSync, uncompressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { RemoteWriteWasm } from '../../src/codec/prometheus/remote-write-wasm.js';
import {
  joinSnappyBlocks,
  snappyDeclaredLength,
  uncompressSnappyInto,
} from '../../src/codec/prometheus/snappy-block.js';
import { DecodeError } from '../../src/model/errors.js';
import { fuzzRuns, mutate, mutations } from '../helpers/mutation.js';

// Our snappy block decompressors — the WebAssembly one the remote-write receiver uses, and
// the JavaScript one that names what is wrong with a block the first refuses — against the
// `snappy` package (Rust's snap crate) as the reference: the same bytes out of every block
// the reference writes, and for damaged blocks never an answer the reference does not give;
// and the two of ours against each other: the same answer for every block.

function ours(block: Uint8Array): Buffer {
  // Room for at most 1 MiB, as a receiver's limit would allow: a damaged length asks more.
  const out = new Uint8Array(Math.min(2 ** 20, Math.max(0, snappyDeclaredLength(block).length)));
  return Buffer.from(out.subarray(0, uncompressSnappyInto(block, out)));
}

/** Text with runs and repeats, as remote write's label-heavy bodies are, or random bytes. */
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 4096 }),
  fc
    .array(fc.constantFrom('__name__', 'http_requests_total', 'job', 'api', '/r/', '200', 'aaaa'), {
      maxLength: 400,
    })
    .map((words) => Buffer.from(words.join(''))),
  fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 70_000 }))
    .map(([byte, n]) => Buffer.alloc(n, byte)),
);

describe('snappy block decompression', () => {
  it('gives back what the reference compressed (property)', () => {
    fc.assert(
      fc.property(payload, (data) => {
        const block = compressSync(Buffer.from(data));
        expect(ours(block).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: fuzzRuns(300) },
    );
  });

  it('on damaged blocks refuses with a DecodeError, or agrees with the reference (property)', () => {
    const block = compressSync(
      Buffer.from('__name__http_requests_total job api route /r/1 /r/2 /r/3 '.repeat(40)),
    );
    fc.assert(
      fc.property(mutations, (edits) => {
        const damaged = mutate(block, edits);
        let mine: Buffer | undefined;
        try {
          mine = ours(damaged);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
          return;
        }
        // Taken by ours: the reference must take it and read the same bytes.
        expect(mine.equals(uncompressSync(Buffer.from(damaged)) as Buffer)).toBe(true);
      }),
      { numRuns: fuzzRuns() },
    );
  });

  it('refuses a block declaring more than the room given, and one that stops short', () => {
    const block = compressSync(Buffer.alloc(1000, 7));
    expect(() => uncompressSnappyInto(block, new Uint8Array(999))).toThrow(/declares 1000 bytes/);
    expect(() => ours(block.subarray(0, block.length - 1))).toThrow(DecodeError);
  });

  it('joins blocks the reference wrote into one the reference reads as their data in a row (property)', () => {
    fc.assert(
      fc.property(fc.array(payload, { minLength: 1, maxLength: 6 }), (parts) => {
        const blocks = parts.map((data) => compressSync(Buffer.from(data)));
        const joined = joinSnappyBlocks(blocks);
        const expected = Buffer.concat(parts.map((data) => Buffer.from(data)));
        expect((uncompressSync(Buffer.from(joined)) as Buffer).equals(expected)).toBe(true);
        expect(ours(joined).equals(expected)).toBe(true);
      }),
      { numRuns: fuzzRuns(200) },
    );
  });

  it('writes the joined length in as many varint bytes as it needs', () => {
    // Two blocks of 10,000 bytes (a two-byte length each) make 20,000: three bytes.
    const part = compressSync(Buffer.alloc(10_000, 1));
    expect(snappyDeclaredLength(part)).toEqual({ length: 10_000, start: 2 });
    const joined = joinSnappyBlocks([part, compressSync(Buffer.alloc(10_000, 2))]);
    expect(snappyDeclaredLength(joined)).toEqual({ length: 20_000, start: 3 });
    const out = uncompressSync(Buffer.from(joined)) as Buffer;
    expect([out.length, out[9_999], out[10_000]]).toEqual([20_000, 1, 2]);
  });
});

/** What a decoder answers: the bytes, or that it threw a `DecodeError` (anything else fails). */
function answer(decode: () => Uint8Array): Buffer | 'refused' {
  try {
    return Buffer.from(decode());
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return 'refused';
  }
}

describe('snappy block decompression in WebAssembly', () => {
  // One decoder for every run, as a receiver keeps one: its memory grows and is reused.
  const wasm = new RemoteWriteWasm();
  const room = 2 ** 20;

  it('gives back what the reference compressed (property)', () => {
    fc.assert(
      fc.property(payload, (data) => {
        const block = compressSync(Buffer.from(data));
        expect(Buffer.from(wasm.uncompress(block, room)).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: fuzzRuns(300) },
    );
  });

  it('answers every block as the JavaScript decoder does: the same bytes, or a DecodeError (property)', () => {
    const reference = compressSync(
      Buffer.from('__name__http_requests_total job api route /r/1 /r/2 /r/3 '.repeat(40)),
    );
    // Damaged blocks of the reference, and elements of any shape after a small length: every
    // kind of tag, offsets before the start, lengths past the end, literal lengths in 1-4 bytes.
    const block = fc.oneof(
      mutations.map((edits) => mutate(reference, edits)),
      fc
        .tuple(fc.integer({ min: 0, max: 3000 }), fc.uint8Array({ maxLength: 300 }))
        .map(([length, elements]) => {
          const head: number[] = [];
          for (let n = length; ; n >>>= 7) {
            if (n < 0x80) {
              head.push(n);
              break;
            }
            head.push((n & 0x7f) | 0x80);
          }
          return Buffer.concat([Buffer.from(head), elements]);
        }),
    );
    const seen = { cases: 0, sameBytes: 0, refusedByBoth: 0 };
    fc.assert(
      fc.property(block, (bytes) => {
        const js = answer(() => ours(bytes));
        const mine = answer(() => wasm.uncompress(bytes, room));
        if (js === 'refused' || mine === 'refused') expect(mine).toBe(js);
        else expect(mine.equals(js)).toBe(true);
        seen.cases++;
        if (js === 'refused') seen.refusedByBoth++;
        else seen.sameBytes++;
      }),
      { numRuns: fuzzRuns() },
    );
    console.log(JSON.stringify({ fuzz: 'snappy-wasm-against-js', ...seen }));
  });

  it('names the fault as the JavaScript decoder does, and refuses a block over the room given', () => {
    const block = compressSync(Buffer.from('abcdefgh'.repeat(100)));
    const cut = block.subarray(0, block.length - 1);
    expect(() => wasm.uncompress(cut, room)).toThrow(
      (() => {
        try {
          ours(cut);
        } catch (err) {
          return (err as Error).message;
        }
        throw new Error('the JavaScript decoder took a cut block');
      })(),
    );
    expect(() => wasm.uncompress(block, 799)).toThrow(/declares 800 bytes, over the room given/);
  });
});
