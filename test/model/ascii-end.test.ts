import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asciiEnd } from '../../src/model/utf8.js';

describe('asciiEnd', () => {
  it('finds the first byte over 0x7f, or the end, in any range (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }).map((bytes) => bytes.map((b) => (b < 200 ? b & 0x7f : b))),
        fc.nat(64),
        fc.nat(64),
        (bytes, a, b) => {
          const start = Math.min(a, b, bytes.length);
          const end = Math.min(Math.max(a, b), bytes.length);
          const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          let expected = end;
          for (let i = start; i < end; i++) {
            if (bytes[i] >= 0x80) {
              expected = i;
              break;
            }
          }
          expect(asciiEnd(bytes, view, start, end)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
