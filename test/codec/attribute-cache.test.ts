import type { Attributes } from '@opentelemetry/api';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { SdkAttributeCache } from '../../src/codec/sdk/attribute-cache.js';
import { toKeyValues } from '../../src/model/any-value.js';
import { encodeKeyValues } from '../../src/model/key-value-bytes.js';

const points = (sets: Attributes[]) =>
  sets.map((attributes) => ({ attributes })) as never as DataPoint<unknown>[];

const series = (from: number, to: number): Attributes[] => {
  const sets: Attributes[] = [];
  for (let s = from; s < to; s++)
    sets.push({ route: `/items/${s}`, code: 200 + (s % 5), ok: s % 3 === 0 });
  return sets;
};

/**
 * Resolves all of `sets` for `instrument` in slices, as the encoders do, checking each
 * slice's bytes right away (a later slice may compact, which renumbers entries) and calling
 * `each` for every point while its entry is valid. Returns every slice's entries: still
 * valid only if nothing compacted meanwhile.
 */
function resolveAll(
  cache: SdkAttributeCache,
  instrument: string,
  sets: Attributes[],
  each?: (k: number, entry: number) => void,
): number[] {
  const data = points(sets);
  const entries: number[] = [];
  for (let start = 0; start < data.length; start += 1000) {
    const end = Math.min(data.length, start + 1000);
    const resolved = cache.resolve(instrument, data, start, end);
    for (let k = start; k < end; k++) {
      const expected = Buffer.from(encodeKeyValues(toKeyValues(sets[k])));
      if (!bytesOf(cache, resolved[k]).equals(expected)) {
        throw new Error(
          `${instrument} position ${k}: entry ${resolved[k]} holds other bytes than ${JSON.stringify(sets[k])}`,
        );
      }
      each?.(k, resolved[k]);
      entries.push(resolved[k]);
    }
  }
  return entries;
}

function bytesOf(cache: SdkAttributeCache, entry: number): Buffer {
  const slab = cache.slabs[cache.slabOf[entry]];
  return Buffer.from(slab.buffer, slab.byteOffset + cache.offsets[entry], cache.lengths[entry]);
}

/** A deterministic shuffle of a random part of `sets` (xorshift from `seed`). */
function shuffledPart(sets: Attributes[], seed: number): Attributes[] {
  let x = seed | 1;
  const random = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const part = sets.filter(() => random() < 0.8);
  for (let k = part.length - 1; k > 0; k--) {
    const j = Math.floor(random() * (k + 1));
    [part[k], part[j]] = [part[j], part[k]];
  }
  return part;
}

describe('SdkAttributeCache', () => {
  it('gives every position the OTLP bytes of its attributes, one entry per distinct set', () => {
    const cache = new SdkAttributeCache();
    const sets = series(0, 3000);
    const entries = resolveAll(cache, 'a', sets);
    expect(cache.size).toBe(3000);
    // Another instrument with equal sets in other objects and another order shares entries.
    const copies = sets.map((set) => ({ ...set })).reverse();
    const other = resolveAll(cache, 'b', copies);
    expect(cache.size).toBe(3000);
    expect(other[0]).toBe(entries[2999]);
  });

  it('matches an unchanged export by position, and finds moved objects again', () => {
    const cache = new SdkAttributeCache();
    const sets = series(0, 5000);
    const first = resolveAll(cache, 'a', sets);
    expect(resolveAll(cache, 'a', sets)).toEqual(first);
    // Delta temporality: the same series in another order every interval, some missing.
    for (let round = 1; round <= 20; round++) resolveAll(cache, 'a', shuffledPart(sets, round));
    expect(cache.size).toBe(5000);
  });

  it('drops entries no position refers to any more, keeping what the user stored per entry', () => {
    const cache = new SdkAttributeCache();
    const stable = series(0, 2000);
    const stableEntries = resolveAll(cache, 'stable', stable);
    for (const entry of stableEntries) {
      cache.conversions[entry] = 7;
      cache.sets[entry] = entry * 3;
    }
    const setIds = new Map(stable.map((set, k) => [set, stableEntries[k] * 3]));
    // Churn: each interval, the same positions carry new series (a short-lived attribute).
    let sizeSeen = 0;
    for (let round = 0; round < 30; round++) {
      const churn = series(10_000 + round * 3000, 10_000 + (round + 1) * 3000);
      resolveAll(cache, 'churn', churn);
      // The stable instrument is exported every interval too.
      resolveAll(cache, 'stable', stable, (k, entry) => {
        expect(cache.conversions[entry]).toBe(7);
        expect(cache.sets[entry]).toBe(setIds.get(stable[k]));
      });
      sizeSeen = Math.max(sizeSeen, cache.size);
    }
    // 92,000 sets were seen; about 5,000 are live at any time.
    expect(sizeSeen).toBeLessThan(16_000);
  });

  it('forgets instruments not exported since the last compaction', () => {
    const cache = new SdkAttributeCache();
    const gone = series(0, 4000);
    resolveAll(cache, 'gone', gone);
    for (let round = 0; round < 10; round++) {
      resolveAll(cache, 'churn', series(10_000 + round * 4000, 10_000 + (round + 1) * 4000));
    }
    expect(cache.size).toBeLessThan(12_000);
    // It comes back: encoded again, correctly (resolveAll checks the bytes).
    resolveAll(cache, 'gone', gone);
  });
});
