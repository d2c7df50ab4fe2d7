import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InFlightSeries,
  type SeriesHold,
  seriesKeysOfBatch,
} from '../../src/delivery/in-flight-series.js';
import { MetricBatch, MetricType, Temporality } from '../../src/index.js';

// Keys from a small range collide often (and include 0); the rest are any 32-bit integer.
const key = fc.oneof(fc.integer({ min: -20, max: 20 }), fc.integer());

/**
 * The key whose Fibonacci product (the table's hash) is `j`: for j < 2^22 its home is the
 * table's first slot, so such keys share one long probe run (white box, on purpose: the
 * run is where garbage is reused and entries could be lost).
 */
const sameHome = (() => {
  let inverse = 0x9e3779b1;
  for (let k = 0; k < 5; k++) inverse = Math.imul(inverse, 2 - Math.imul(0x9e3779b1, inverse));
  return (j: number) => Math.imul(j, inverse);
})();

/** Whether a promise has settled after the microtasks queued so far ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('InFlightSeries', () => {
  it('admits a delivery exactly when none in flight shares a key with it, through any admits and releases (property)', async () => {
    // Deliveries of up to a few dozen keys from a pool of thousands, some of hundreds: many in
    // flight at once (the live serials' places grow), garbage reused, the table rebuilt.
    const delivery = fc.oneof(
      { weight: 5, arbitrary: fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 30 }) },
      { weight: 5, arbitrary: fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 3 }) },
      {
        weight: 3,
        arbitrary: fc.array(fc.integer({ min: 0, max: 60 }).map(sameHome), { maxLength: 8 }),
      },
      {
        weight: 1,
        arbitrary: fc.array(fc.oneof(key, fc.integer({ min: 0, max: 3000 })), { maxLength: 700 }),
      },
    );
    // Mostly no release between two admits: dozens in flight at once.
    const releases = fc.oneof(
      { weight: 3, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.array(fc.nat(), { maxLength: 3 }) },
    );
    const step = fc.record({ keys: delivery, releases });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 100 }), async (steps) => {
        const series = new InFlightSeries();
        const holds: SeriesHold[] = [];
        const shares = (k: Int32Array) => holds.some((h) => h.keys.some((x) => k.includes(x)));
        for (const { keys, releases } of steps) {
          // Deliveries that finish before this one is taken off the queue, any of them.
          for (const r of releases)
            if (holds.length > 0) series.release(holds.splice(r % holds.length, 1)[0]);
          const next = Int32Array.from(keys);
          const admitted = series.admit(next, undefined);
          // Admitted exactly when nothing still in flight shares a key: check, then release
          // the oldest until it is.
          while (shares(next)) {
            expect(await settled(admitted)).toBe(false);
            series.release(holds.shift()!);
          }
          expect(await settled(admitted)).toBe(true);
          holds.push(await admitted);
          expect(series.size).toBe(holds.length);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('never admits a delivery beside one of another collection sharing a key, and waits only for a key in flight (property)', async () => {
    // Requests of one collection are not checked against each other, so their keys can share
    // the table (entered for a check of another collection): the case where a key has two
    // entries and a released one must not hide the other.
    const delivery = fc.record({
      keys: fc.array(fc.integer({ min: 0, max: 12 }).map(sameHome), { maxLength: 4 }),
      collection: fc.constantFrom(undefined, 1, 2),
    });
    const step = fc.record({ delivery, releases: fc.array(fc.nat(), { maxLength: 2 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (steps) => {
        const series = new InFlightSeries();
        const holds: SeriesHold[] = [];
        const shares = (k: Int32Array, held: SeriesHold) => held.keys.some((x) => k.includes(x));
        const conflicts = (k: Int32Array, collection: number | undefined) =>
          holds.some(
            (h) => (collection === undefined || h.collection !== collection) && shares(k, h),
          );
        for (const { delivery: d, releases } of steps) {
          for (const r of releases)
            if (holds.length > 0) series.release(holds.splice(r % holds.length, 1)[0]);
          const next = Int32Array.from(d.keys);
          const admitted = series.admit(next, d.collection);
          while (!(await settled(admitted))) {
            // A wait is for a key in flight (of any collection: a shared hash costs a wait).
            expect(holds.some((h) => shares(next, h))).toBe(true);
            series.release(holds.shift()!);
          }
          expect(conflicts(next, d.collection)).toBe(false);
          holds.push(await admitted);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a key held by one request of a collection when another request with it is done', async () => {
    const series = new InFlightSeries();
    // Two requests of one collection share key 5 (a hash, within a collection); neither is
    // entered while nothing else is in flight.
    const first = await series.admit(Int32Array.of(5), 7);
    await series.admit(Int32Array.of(5, 6), 7);
    // A delivery of another collection enters both unchecked: 5 twice, the first's first.
    await series.admit(Int32Array.of(100), 8);
    series.release(first); // the first entry of 5 is garbage; the second is still live
    expect(await settled(series.admit(Int32Array.of(5), undefined))).toBe(false);
  });

  it('keeps every key of a delivery when its run holds garbage before its own entries', async () => {
    const series = new InFlightSeries();
    const first = await series.admit(Int32Array.of(sameHome(1)), undefined);
    // Entered when the next delivery is checked: the first's key, then these two, in one run.
    await series.admit(Int32Array.of(sameHome(2), sameHome(3)), undefined);
    series.release(first); // its entry, first in the run, is garbage now
    // 4 takes the garbage slot; 5 must not take 4's (this delivery's own, not yet live).
    await series.admit(Int32Array.of(sameHome(4), sameHome(5)), undefined);
    expect(await settled(series.admit(Int32Array.of(sameHome(4)), undefined))).toBe(false);
  });

  it('keeps a long delivery live while a hundred others come and go', async () => {
    const series = new InFlightSeries();
    const slow = await series.admit(Int32Array.of(1, 2), undefined);
    for (let k = 0; k < 100; k++) {
      const quick = await series.admit(Int32Array.of(1000 + k), undefined);
      series.release(quick);
    }
    expect(await settled(series.admit(Int32Array.of(2), undefined))).toBe(false);
    series.release(slow);
  });

  it('does not hold up requests of one collection for each other, only for other deliveries', async () => {
    const series = new InFlightSeries();
    const first = await series.admit(Int32Array.of(1, 2, 3), 7);
    // Same collection, a key in common (only a hash can be, within a collection): no wait.
    expect(await settled(series.admit(Int32Array.of(3, 4), 7))).toBe(true);
    const other = series.admit(Int32Array.of(2, 9), 8);
    expect(await settled(other)).toBe(false);
    series.release(first);
    expect(await settled(other)).toBe(true);
    expect(series.size).toBe(2);
  });

  it('forgets released keys: the same series pass again once their delivery is done', async () => {
    const series = new InFlightSeries();
    for (let round = 0; round < 50; round++) {
      const a = await series.admit(
        Int32Array.from({ length: 100 }, (_, i) => i),
        undefined,
      );
      const b = series.admit(
        Int32Array.from({ length: 100 }, (_, i) => 1000 + i),
        undefined,
      );
      expect(await settled(b)).toBe(true);
      series.release(a);
      series.release(await b);
    }
    expect(series.size).toBe(0);
  });
});

describe('seriesKeysOfBatch', () => {
  it('keys a batch by its series whose order matters: not delta points', () => {
    const batch = new MetricBatch();
    const scope = batch.addScope(batch.addResource());
    const gauge = batch.addMetric(scope, { name: 'g', type: MetricType.Gauge });
    const delta = batch.addMetric(scope, {
      name: 'd',
      type: MetricType.Sum,
      temporality: Temporality.Delta,
    });
    const a = batch.series(gauge, { k: 'a' });
    batch.addNumberPoint(a, { time: 1n, value: 1 });
    batch.addNumberPoint(a, { time: 2n, value: 2 });
    batch.addNumberPoint(batch.series(delta, { k: 'a' }), { time: 1n, value: 1 });
    expect([...(seriesKeysOfBatch(batch) ?? [])]).toEqual([batch.seriesHash(a)]);

    const onlyDelta = new MetricBatch();
    const s = onlyDelta.addScope(onlyDelta.addResource());
    const d = onlyDelta.addMetric(s, { name: 'd', type: MetricType.Sum, temporality: 1 });
    onlyDelta.addNumberPoint(onlyDelta.series(d, {}), { time: 1n, value: 1 });
    expect(seriesKeysOfBatch(onlyDelta)).toBeUndefined();
  });
});
