import { describe, expect, it } from 'vitest';
import { SeriesCache } from '../../src/codec/series-cache.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('SeriesCache', () => {
  it('remembers a value per context and attribute bytes, made once', () => {
    const cache = new SeriesCache<string>(10);
    let made = 0;
    const make = (value: string) => () => {
      made++;
      return value;
    };
    const a = cache.context('metric a');
    const b = cache.context('metric b');
    expect(cache.get(a, bytes('k=v'), make('a1'))).toBe('a1');
    expect(cache.get(a, bytes('k=v'), make('again'))).toBe('a1');
    // Same attributes, another context: its own value.
    expect(cache.get(b, bytes('k=v'), make('b1'))).toBe('b1');
    // The context map found again later holds the same entries.
    expect(cache.get(cache.context('metric a'), bytes('k=v'), make('x'))).toBe('a1');
    expect(made).toBe(2);
  });

  it('starts over when full; a context map held across it keeps working', () => {
    const cache = new SeriesCache<number>(3);
    const held = cache.context('m');
    for (let k = 0; k < 3; k++) cache.get(held, bytes(`s${k}`), () => k);
    // The fourth entry empties the cache first.
    expect(cache.get(held, bytes('s3'), () => 3)).toBe(3);
    expect(cache.get(held, bytes('s3'), () => -1)).toBe(3);
    expect(cache.get(held, bytes('s0'), () => 10)).toBe(10);
    // A fresh lookup of the context no longer sees what was forgotten.
    expect(cache.get(cache.context('m'), bytes('s1'), () => 11)).toBe(11);
  });
});
