import { describe, expect, it } from 'vitest';
import { SeriesIndex } from '../../src/exporters/prometheus/series-index.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');
const viewOf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

describe('SeriesIndex', () => {
  it('tells sets with the same hash apart by their bytes, and scopes apart by their key', () => {
    const index = new SeriesIndex<string>();
    const a = bytes('\x0a\x05host1');
    const b = bytes('\x0a\x05host2');
    // One hash for both: the index must compare the bytes.
    index.add('job=api', 7, a, 0, a.length, 'series a');
    index.add('job=api', 7, b, 0, b.length, 'series b');
    index.add('job=web', 7, a, 0, a.length, 'series a of web');
    expect(index.find('job=api', 7, viewOf(a), 0, a.length)).toBe('series a');
    expect(index.find('job=api', 7, viewOf(b), 0, b.length)).toBe('series b');
    expect(index.find('job=web', 7, viewOf(a), 0, a.length)).toBe('series a of web');
    expect(index.find('job=web', 7, viewOf(b), 0, b.length)).toBeUndefined();
    expect(index.find('job=api', 8, viewOf(a), 0, a.length)).toBeUndefined();
    // The set inside a larger buffer, as a batch's attribute arena holds it.
    const arena = Buffer.concat([bytes('xx'), b, bytes('yy')]);
    expect(index.find('job=api', 7, viewOf(arena), 2, 2 + b.length)).toBe('series b');
    expect(index.find('job=api', 7, viewOf(arena), 2, 1 + b.length)).toBeUndefined();
  });

  it('drops what prune refuses and keeps the rest, their bytes intact as the arena grows and shrinks', () => {
    const index = new SeriesIndex<string>();
    // Sets of every length from 1 to 299 bytes (past the first arena), one hash for all.
    const sets = Array.from({ length: 300 }, (_, n) =>
      bytes(
        Array.from({ length: n + 1 }, (_, k) => String.fromCharCode(65 + ((n + k) % 26))).join(''),
      ),
    );
    sets.forEach((set, n) => {
      index.add('s', 1, set, 0, set.length, `set ${n}`);
    });
    index.prune((value) => Number(value.slice(4)) % 3 === 0);
    sets.forEach((set, n) => {
      expect(index.find('s', 1, viewOf(set), 0, set.length)).toBe(
        n % 3 === 0 ? `set ${n}` : undefined,
      );
    });
    index.prune(() => false);
    expect(index.find('s', 1, viewOf(sets[0]), 0, 1)).toBeUndefined();
  });
});
