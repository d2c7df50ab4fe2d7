import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BytePool } from '../../src/model/byte-pool.js';

const pool = () => new BytePool({ minSize: 1024, maxSize: 1 << 20, maxFreeBytes: 64 * 1024 });

describe('BytePool', () => {
  it('hands a block given back to the next take of its size class, and only then', () => {
    const bytes = pool();
    const first = bytes.take(3000);
    expect(first.length).toBe(3000);
    // 3000 is in the class of 3072 (2048 · 6/4): the block is that size.
    expect(first.buffer.byteLength).toBe(3072);
    bytes.give(first);
    expect(bytes.freeBytes).toBe(3072);
    const again = bytes.take(2900);
    expect(again.buffer).toBe(first.buffer);
    expect(bytes.freeBytes).toBe(0);
    // Nothing free: a new block.
    expect(bytes.take(3000).buffer).not.toBe(first.buffer);
  });

  it('takes back only its own blocks, each once', () => {
    const bytes = pool();
    bytes.give(new Uint8Array(4096));
    bytes.give(Buffer.allocUnsafeSlow(4096));
    expect(bytes.freeBytes).toBe(0);
    const block = bytes.take(4096);
    bytes.give(block);
    bytes.give(block.subarray(0, 10)); // the same block again, through another view
    expect(bytes.freeBytes).toBe(4096);
    const a = bytes.take(4096);
    const b = bytes.take(4096);
    expect(a.buffer).not.toBe(b.buffer);
  });

  it('keeps at most maxFreeBytes for reuse, and does not pool sizes outside its range', () => {
    const bytes = pool();
    const blocks = Array.from({ length: 20 }, () => bytes.take(8192));
    for (const block of blocks) bytes.give(block);
    expect(bytes.freeBytes).toBe(64 * 1024);
    const small = bytes.take(100);
    const large = bytes.take(2 << 20);
    bytes.give(small);
    bytes.give(large);
    expect(bytes.freeBytes).toBe(64 * 1024);
  });

  it('every block holds its size with at most a quarter unused (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1024, max: 1 << 20 }), (size) => {
        const block = pool().take(size).buffer.byteLength;
        expect(block).toBeGreaterThanOrEqual(size);
        expect(block).toBeLessThanOrEqual(Math.ceil(size * 1.25));
      }),
    );
  });
});
