import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FIRST_BLOCK_BYTES, GrowingBytes, requestBytes } from '../../src/model/byte-pool.js';

describe('GrowingBytes', () => {
  it('holds exactly the bytes appended, in order, across growths (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 200_000 }), { maxLength: 12 }),
        fc.nat({ max: 300_000 }),
        fc.nat({ max: 16 }),
        (chunks, firstSize, skip) => {
          const bytes = new GrowingBytes(firstSize);
          const expected: number[] = [];
          for (const chunk of chunks) {
            const from = Math.min(skip, chunk.length);
            bytes.append(chunk, from, Number.MAX_SAFE_INTEGER);
            for (let k = from; k < chunk.length; k++) expected.push(chunk[k]);
          }
          expect(bytes.length).toBe(expected.length);
          const taken = bytes.take();
          expect(Buffer.compare(taken, Buffer.from(expected))).toBe(0);
          expect(bytes.length).toBe(0);
          requestBytes.give(taken);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('starts small whatever is declared, and never grows past the maximum given', () => {
    const bytes = new GrowingBytes(64 * 1024 * 1024); // a declared size, not trusted
    bytes.append(new Uint8Array(5), 0, 64 * 1024 * 1024);
    const first = bytes.take();
    expect(first.buffer.byteLength).toBeLessThanOrEqual(FIRST_BLOCK_BYTES);
    requestBytes.give(first);

    const capped = new GrowingBytes(1000);
    capped.append(new Uint8Array(900), 0, 1500);
    capped.append(new Uint8Array(600), 0, 1500); // doubling would ask for 1800
    const whole = capped.take();
    expect(whole.length).toBe(1500);
    expect(whole.buffer.byteLength).toBeLessThan(1800);
  });

  it('gives its block back on release, for the next request to reuse', () => {
    const bytes = new GrowingBytes(100_000);
    bytes.append(new Uint8Array(100_000).fill(7), 0, 100_000);
    const before = requestBytes.freeBytes;
    bytes.release();
    expect(requestBytes.freeBytes).toBeGreaterThan(before);
    expect(bytes.take().length).toBe(0);
  });
});
