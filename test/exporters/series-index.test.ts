import { describe, expect, it } from 'vitest';
import { SeriesIndex } from '../../src/exporters/prometheus/series-index.js';
import { hashRange } from '../../src/model/attribute-table.js';

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

  it('finds a set after another by the guess it learned, and by hash when the guess is wrong', () => {
    const index = new SeriesIndex<string>();
    const sets = ['\x0a\x02h1', '\x0a\x02h2', '\x0a\x02h3'].map(bytes);
    const add = (set: Uint8Array, value: string) =>
      index.add('s', hashRange(viewOf(set), 0, set.length), set, 0, set.length, value);
    sets.forEach((set, n) => {
      add(set, `set ${n}`);
    });
    const scope = index.scope('s')!;
    const lookUp = (previous: ReturnType<typeof index.findAfter>, set: Uint8Array) =>
      index.findAfter(scope, previous, viewOf(set), 0, set.length);
    // In order: 0 → 1 → 2, learned on the first pass, guessed on the second.
    for (let pass = 0; pass < 2; pass++) {
      const first = lookUp(undefined, sets[0]);
      const second = lookUp(first, sets[1]);
      expect([first?.value, second?.value, lookUp(second, sets[2])?.value]).toEqual([
        'set 0',
        'set 1',
        'set 2',
      ]);
    }
    // Another order: the guess (1) is wrong and the lookup answers; unknown bytes find nothing.
    const first = lookUp(undefined, sets[0]);
    expect(lookUp(first, sets[2])?.value).toBe('set 2');
    expect(lookUp(first, bytes('\x0a\x02h9'))).toBeUndefined();
    expect(lookUp(lookUp(first, sets[2]), sets[1])?.value).toBe('set 1');
  });

  it('forgets its guesses when it prunes: a dropped entry is never found through one', () => {
    const index = new SeriesIndex<string>();
    const [a, b, c] = ['\x0a\x02aa', '\x0a\x02bb', '\x0a\x02cc'].map(bytes);
    const add = (set: Uint8Array, value: string) =>
      index.add('s', hashRange(viewOf(set), 0, set.length), set, 0, set.length, value);
    add(a, 'a');
    add(b, 'b');
    const entryA = index.findAfter(index.scope('s')!, undefined, viewOf(a), 0, a.length);
    expect(index.findAfter(index.scope('s')!, entryA, viewOf(b), 0, b.length)?.value).toBe('b');
    // b goes; c takes its place in the arena, so b's old bytes there now read as c's.
    index.prune((value) => value === 'a');
    add(c, 'c');
    expect(index.findAfter(index.scope('s')!, entryA, viewOf(c), 0, c.length)?.value).toBe('c');
  });
});
