import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAscii } from '../../src/model/utf8.js';

describe('isAscii', () => {
  it('says whether a range has no byte over 0x7f, for any range of any bytes (property)', () => {
    fc.assert(
      fc.property(
        // Mostly ASCII, so ranges of both answers are common.
        fc.uint8Array({ maxLength: 64 }).map((bytes) => bytes.map((b) => (b < 230 ? b & 0x7f : b))),
        fc.nat(64),
        fc.nat(64),
        (bytes, a, b) => {
          const start = Math.min(a, b, bytes.length);
          const end = Math.min(Math.max(a, b), bytes.length);
          const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          const expected = bytes.subarray(start, end).every((byte) => byte < 0x80);
          expect(isAscii(view, start, end)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
