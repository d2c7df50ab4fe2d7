import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { type Consumer, MetricBatch, MetricType, Temporality } from '../../src/index.js';
import { CumulativeToDeltaProcessor } from '../../src/processors/cumulativetodelta/cumulative-to-delta-processor.js';
import { DeltaToCumulativeProcessor } from '../../src/processors/deltatocumulative/delta-to-cumulative-processor.js';
import { IntervalProcessor } from '../../src/processors/interval/interval-processor.js';
import { monotonicSums as sums } from '../helpers/batches.js';

const settings = { id: 'p', logger: pino({ level: 'silent' }) };

class Capture implements Consumer {
  readonly points: {
    series: string;
    start: bigint;
    time: bigint;
    value: number | bigint | undefined;
    temporality: number;
    counts?: bigint[];
  }[] = [];
  async consume(batch: MetricBatch): Promise<void> {
    for (const p of batch.pointViews()) {
      this.points.push({
        series: String(p.attributes[0]?.value),
        start: p.startTime,
        time: p.time,
        value: p.metric.type === MetricType.Histogram ? p.sum : p.exactValue,
        temporality: p.metric.temporality,
        counts: p.metric.type === MetricType.Histogram ? [...p.bucketCounts] : undefined,
      });
    }
  }
}

describe('cumulativetodelta', () => {
  it('subtracts the previous point, starts where it ended, and treats a drop as a reset', async () => {
    const out = new Capture();
    const processor = new CumulativeToDeltaProcessor(
      settings,
      { initial_value: 'auto', max_staleness: 0 },
      out,
    );
    const series = [5, 8, 8, 3, 10];
    for (let k = 0; k < series.length; k++) {
      const start = k === 3 ? 35n : 1n;
      await processor.consume(
        sums(Temporality.Cumulative, [
          { series: 'a', start, time: BigInt((k + 1) * 10), value: series[k] },
        ]),
      );
    }
    // The first point started before the processor: dropped (auto).
    expect(out.points.map((p) => [p.start, p.time, p.value])).toEqual([
      [10n, 20n, 3],
      [20n, 30n, 0],
      [35n, 40n, 3],
      [40n, 50n, 7],
    ]);
    expect(out.points.every((p) => p.temporality === Temporality.Delta)).toBe(true);
  });

  it('keeps int64 exact, drops out-of-order points, and leaves other metrics alone', async () => {
    const out = new Capture();
    const processor = new CumulativeToDeltaProcessor(
      settings,
      { initial_value: 'keep', max_staleness: 0 },
      out,
    );
    await processor.consume(
      sums(Temporality.Cumulative, [{ series: 'a', start: 1n, time: 10n, value: 2n ** 60n }]),
    );
    await processor.consume(
      sums(Temporality.Cumulative, [{ series: 'a', start: 1n, time: 20n, value: 2n ** 60n + 1n }]),
    );
    await processor.consume(
      sums(Temporality.Cumulative, [{ series: 'a', start: 1n, time: 15n, value: 2n ** 61n }]),
    );
    await processor.consume(
      sums(Temporality.Delta, [{ series: 'd', start: 1n, time: 5n, value: 4 }]),
    );
    expect(out.points.map((p) => [p.series, p.value, p.temporality])).toEqual([
      ['a', 2n ** 60n, Temporality.Delta],
      ['a', 1n, Temporality.Delta],
      ['d', 4, Temporality.Delta],
    ]);
    expect(processor.dropped).toEqual({ out_of_order: 1 });
  });
});

describe('deltatocumulative', () => {
  it('keeps a running total per series from its first start time', async () => {
    const out = new Capture();
    const processor = new DeltaToCumulativeProcessor(
      settings,
      { max_stale: 60_000, max_streams: 10 },
      out,
    );
    await processor.consume(
      sums(Temporality.Delta, [
        { series: 'a', start: 1n, time: 10n, value: 2 },
        { series: 'b', start: 5n, time: 10n, value: 1 },
      ]),
    );
    await processor.consume(
      sums(Temporality.Delta, [{ series: 'a', start: 10n, time: 20n, value: 3 }]),
    );
    await processor.consume(
      sums(Temporality.Delta, [{ series: 'a', start: 20n, time: 20n, value: 9 }]),
    ); // not newer: dropped
    await processor.consume(
      sums(Temporality.Delta, [{ series: 'a', start: 20n, time: 30n, value: 5 }]),
    );
    expect(out.points.map((p) => [p.series, p.start, p.time, p.value, p.temporality])).toEqual([
      ['a', 1n, 10n, 2, Temporality.Cumulative],
      ['b', 5n, 10n, 1, Temporality.Cumulative],
      ['a', 1n, 20n, 5, Temporality.Cumulative],
      ['a', 1n, 30n, 10, Temporality.Cumulative],
    ]);
    expect(processor.dropped).toEqual({ out_of_order: 1 });
  });

  it('adds histograms bucket by bucket and refuses streams past max_streams', async () => {
    const out = new Capture();
    const processor = new DeltaToCumulativeProcessor(
      settings,
      { max_stale: 60_000, max_streams: 1 },
      out,
    );
    const histogram = (series: string, time: bigint, counts: number[]) => {
      const batch = new MetricBatch();
      const scope = batch.addScope(batch.addResource());
      const m = batch.addMetric(scope, {
        name: 'h',
        type: MetricType.Histogram,
        temporality: Temporality.Delta,
      });
      batch.addHistogramPoint(batch.series(m, { s: series }), {
        startTime: time - 10n,
        time,
        count: counts.reduce((a, b) => a + b),
        sum: 10,
        min: 1,
        max: 9,
        bounds: [5],
        bucketCounts: counts,
      });
      return batch;
    };
    await processor.consume(histogram('a', 10n, [1, 2]));
    await processor.consume(histogram('a', 20n, [3, 4]));
    await processor.consume(histogram('b', 20n, [1, 1]));
    expect(out.points.map((p) => [p.series, p.counts, p.value])).toEqual([
      ['a', [1n, 2n], 10],
      ['a', [4n, 6n], 20],
    ]);
    expect(processor.dropped).toEqual({ max_streams: 1 });
  });

  it('delta → cumulative → delta gives the deltas back (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.nat(1000)), {
          minLength: 1,
          maxLength: 40,
        }),
        async (rows) => {
          const out = new Capture();
          const toDelta = new CumulativeToDeltaProcessor(
            settings,
            { initial_value: 'keep', max_staleness: 0 },
            out,
          );
          const toCumulative = new DeltaToCumulativeProcessor(
            settings,
            { max_stale: 60_000, max_streams: 100 },
            toDelta,
          );
          let time = 100n;
          for (const [series, value] of rows) {
            time += 10n;
            await toCumulative.consume(
              sums(Temporality.Delta, [{ series, start: time - 10n, time, value }]),
            );
          }
          expect(out.points.map((p) => [p.series, p.value])).toEqual(rows.map(([s, v]) => [s, v]));
          // Totals per series are preserved.
          const total = (list: [string, number][], s: string) =>
            list.filter(([x]) => x === s).reduce((n, [, v]) => n + v, 0);
          for (const s of ['a', 'b', 'c'])
            expect(
              total(
                out.points.map((p) => [p.series, Number(p.value)]),
                s,
              ),
            ).toBe(total(rows, s));
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('interval processor', () => {
  it('emits the latest point per series each interval and passes deltas through at once', async () => {
    const out = new Capture();
    const processor = new IntervalProcessor(settings, { interval: 3_600_000 }, out);
    await processor.consume(
      sums(Temporality.Cumulative, [
        { series: 'a', start: 1n, time: 10n, value: 1 },
        { series: 'b', start: 1n, time: 10n, value: 5 },
      ]),
    );
    await processor.consume(
      sums(Temporality.Cumulative, [{ series: 'a', start: 1n, time: 30n, value: 3 }]),
    );
    await processor.consume(
      sums(Temporality.Cumulative, [{ series: 'a', start: 1n, time: 20n, value: 2 }]),
    ); // late
    await processor.consume(
      sums(Temporality.Delta, [{ series: 'd', start: 1n, time: 10n, value: 7 }]),
    );
    expect(out.points.map((p) => [p.series, p.value])).toEqual([['d', 7]]);
    processor.flush();
    await processor.shutdown();
    const emitted = out.points.slice(1).map((p) => [p.series, p.time, p.value]);
    expect(emitted.sort()).toEqual([
      ['a', 30n, 3],
      ['b', 10n, 5],
    ]);
  });
});
