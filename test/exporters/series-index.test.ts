import { describe, expect, it } from 'vitest';
import { SeriesIndex } from '../../src/exporters/prometheus/series-index.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');

describe('SeriesIndex', () => {
  it('tells sets with the same hash apart by their bytes, and scopes apart by their key', () => {
    const index = new SeriesIndex<string>();
    const a = bytes('\x0a\x05host1');
    const b = bytes('\x0a\x05host2');
    // One hash for both: the index must compare the bytes.
    index.add('job=api', 7, a.toString('latin1'), 'series a');
    index.add('job=api', 7, b.toString('latin1'), 'series b');
    index.add('job=web', 7, a.toString('latin1'), 'series a of web');
    expect(index.find('job=api', 7, a, 0, a.length)).toBe('series a');
    expect(index.find('job=api', 7, b, 0, b.length)).toBe('series b');
    expect(index.find('job=web', 7, a, 0, a.length)).toBe('series a of web');
    expect(index.find('job=web', 7, b, 0, b.length)).toBeUndefined();
    expect(index.find('job=api', 8, a, 0, a.length)).toBeUndefined();
    // The set inside a larger buffer, as a batch's attribute arena holds it.
    const arena = Buffer.concat([bytes('xx'), b, bytes('yy')]);
    expect(index.find('job=api', 7, arena, 2, 2 + b.length)).toBe('series b');
    expect(index.find('job=api', 7, arena, 2, 1 + b.length)).toBeUndefined();
  });

  it('drops what prune refuses and keeps the rest', () => {
    const index = new SeriesIndex<string>();
    const a = bytes('a');
    const b = bytes('b');
    index.add('s', 1, 'a', 'keep');
    index.add('s', 1, 'b', 'drop');
    index.prune((value) => value === 'keep');
    expect(index.find('s', 1, a, 0, 1)).toBe('keep');
    expect(index.find('s', 1, b, 0, 1)).toBeUndefined();
    index.prune(() => false);
    expect(index.find('s', 1, a, 0, 1)).toBeUndefined();
  });
});
