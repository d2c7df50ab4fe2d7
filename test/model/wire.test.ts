import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { u64NanosToMillis } from '../../src/model/wire.js';

describe('u64NanosToMillis', () => {
  it('gives the whole milliseconds a bigint division gives, for any u64 of nanoseconds', () => {
    const words = new BigUint64Array(1);
    const halves = new Uint32Array(words.buffer);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          // Around now, and just either side of a millisecond.
          fc
            .bigInt({ min: 1_600_000_000_000n, max: 1_900_000_000_000n })
            .chain((ms) =>
              fc.constantFrom(ms * 1_000_000n - 1n, ms * 1_000_000n, ms * 1_000_000n + 999_999n),
            ),
        ),
        (nanos) => {
          words[0] = nanos;
          expect(u64NanosToMillis(halves, 0)).toBe(Number(nanos / 1_000_000n));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
