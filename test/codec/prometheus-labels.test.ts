import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LabelPair, mergeLabels } from '../../src/codec/prometheus/labels.js';
import { sanitizeLabelName } from '../../src/codec/prometheus/naming.js';

/** The rule written the plain way: group by sanitised name, sort names, sort and join values. */
function reference(pairs: readonly LabelPair[]): LabelPair[] {
  const merged = new Map<string, string[]>();
  for (const [key, value] of pairs) {
    const name = sanitizeLabelName(key);
    merged.set(name, [...(merged.get(name) ?? []), value]);
  }
  return [...merged.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, values]) => [name, values.sort().join(';')]);
}

describe('mergeLabels', () => {
  it('sorts by sanitised name and joins the values of colliding keys in sorted order', () => {
    expect(
      mergeLabels([
        ['http.route', '/b'],
        ['host', 'h1'],
        ['http_route', '/a'],
        ['1st', 'x'],
      ]),
    ).toEqual([
      ['host', 'h1'],
      ['http_route', '/a;/b'],
      ['key_1st', 'x'],
    ]);
  });

  it('agrees with the plain rule on any pairs, colliding keys and repeated calls included', () => {
    // Keys from a small alphabet with characters that sanitise to `_`, so they collide.
    const key = fc.stringMatching(/^[a-c1._\-é]{0,4}$/);
    const pairs = fc.array(fc.tuple(key, fc.string({ maxLength: 4 })), { maxLength: 12 });
    fc.assert(
      fc.property(pairs, (input) => {
        const copy = input.map(([k, v]) => [k, v] as LabelPair);
        expect(mergeLabels(input)).toEqual(reference(input));
        // The input is left as it was.
        expect(input).toEqual(copy);
      }),
      { numRuns: 2000 },
    );
  });
});
