import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toKeyValues } from '../../src/model/any-value.js';
import { hashBytes, hashRange } from '../../src/model/attribute-table.js';
import { encodeKeyValues } from '../../src/model/key-value-bytes.js';

describe('attribute set hash', () => {
  it('depends on every byte, at every offset and length', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.nat({ max: 7 }),
        (bytes, at, flip, offset) => {
          // The same bytes at another offset of a larger buffer hash the same.
          const padded = new Uint8Array(bytes.length + offset);
          padded.set(bytes, offset);
          const view = new DataView(padded.buffer);
          const hash = hashBytes(bytes);
          expect(hashRange(view, offset, offset + bytes.length)).toBe(hash);
          const changed = bytes.slice();
          changed[at % bytes.length] ^= flip;
          expect(hashBytes(changed)).not.toBe(hash);
          // A longer run of zeros is another set.
          expect(hashBytes(new Uint8Array([...bytes, 0]))).not.toBe(hash);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('spreads realistic attribute sets over the low bits a hash index uses', () => {
    const buckets = new Uint32Array(1 << 12);
    const hashes = new Set<number>();
    const sets = 100_000;
    for (let s = 0; s < sets; s++) {
      const bytes = encodeKeyValues(
        toKeyValues({ 'http.route': `/items/${s >> 1}`, 'http.method': 'GET', host: `h${s % 16}` }),
      );
      const hash = hashBytes(bytes);
      hashes.add(hash);
      buckets[hash & (buckets.length - 1)]++;
    }
    // 100k distinct sets: a handful of 32-bit collisions at most, and no crowded bucket
    // (uniform: ~24 per bucket, a standard deviation of ~5).
    expect(hashes.size).toBeGreaterThan(sets - 10);
    expect(Math.max(...buckets)).toBeLessThan(60);
  });
});
