import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeMetricsRequest } from '../../src/codec/protobuf/decode-request.js';
import { MetricsRequestScanner } from '../../src/codec/protobuf/scan-request.js';
import { type Exemplar, MetricBatch, MetricType, Temporality } from '../../src/index.js';
import { DecodeError } from '../../src/model/errors.js';
import { AggregateProcessor } from '../../src/processors/aggregate/aggregate-processor.js';
import { aggregateConfig } from '../../src/processors/aggregate/config.js';
import { CardinalityLimitProcessor } from '../../src/processors/cardinalitylimit/cardinality-limit-processor.js';
import {
  Capture,
  type PointSpec,
  processor,
  SCAN_METRICS,
  SCAN_SETS,
  scanRequest,
  sortedPoints,
} from '../helpers/aggregate-fixtures.js';

const settings = { id: 'aggregate', logger: pino({ level: 'silent' }) };

function sumBatch(
  temporality: Temporality,
  rows: [Record<string, string>, number, bigint][],
): MetricBatch {
  const batch = new MetricBatch();
  const scope = batch.addScope(batch.addResource({ attributes: { 'service.name': 'api' } }), {
    name: 'lib',
  });
  const m = batch.addMetric(scope, {
    name: 'http.server.requests',
    type: MetricType.Sum,
    temporality,
    monotonic: true,
  });
  const other = batch.addMetric(scope, { name: 'process.cpu', type: MetricType.Gauge });
  for (const [attributes, value, time] of rows)
    batch.addNumberPoint(batch.series(m, attributes), { startTime: 1n, time, value });
  batch.addNumberPoint(batch.series(other, { host: 'h1' }), { time: 5n, value: 0.5 });
  return batch;
}

/** A batch with one histogram metric, `latency`, of `temporality`. */
function latencyHistogram(temporality: Temporality) {
  const batch = new MetricBatch();
  const scope = batch.addScope(batch.addResource());
  const h = batch.addMetric(scope, { name: 'latency', type: MetricType.Histogram, temporality });
  return { batch, scope, h };
}

/**
 * An aggregate summing `http.server.requests` across hosts, emitting every hour and forgetting
 * series silent for a minute, on a clock the test moves (`clock.now`, ms).
 */
function staleAggregate() {
  const out = new Capture();
  const clock = { now: 1_000_000 };
  const p = new AggregateProcessor(
    settings,
    aggregateConfig.parse({
      interval: '1h',
      max_stale: '1m',
      rules: [{ metrics: ['http.server.requests'], drop_attributes: ['host'] }],
    }),
    out,
    () => clock.now,
  );
  const send = (rows: [Record<string, string>, number, bigint][]) =>
    p.consume(sumBatch(Temporality.Cumulative, rows));
  return { p, out, clock, send };
}

describe('aggregate processor', () => {
  it('sums delta points across dropped attributes, preserving totals (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(fc.constantFrom('/a', '/b'), fc.constantFrom('h1', 'h2', 'h3'), fc.nat(100)),
          { minLength: 1, maxLength: 30 },
        ),
        async (rows) => {
          const out = new Capture();
          const p = processor([{ metrics: ['http.server.*'], drop_attributes: ['host'] }], out);
          let time = 10n;
          for (const [route, host, value] of rows) {
            time += 1n;
            await p.consume(sumBatch(Temporality.Delta, [[{ route, host }, value, time]]));
          }
          p.flush();
          await p.shutdown();
          const aggregated = out.points().filter((x) => x.name === 'http.server.requests');
          for (const route of ['/a', '/b']) {
            const expected = rows.filter(([r]) => r === route).reduce((n, [, , v]) => n + v, 0);
            const got = aggregated.filter((x) => x.attributes.route === route);
            if (expected === 0 && got.length === 0) continue;
            expect(got).toHaveLength(1);
            expect(got[0].value).toBe(expected);
            expect(got[0].attributes).toEqual({ route });
          }
          // The unmatched gauge passed straight through, once per input batch.
          expect(out.points().filter((x) => x.name === 'process.cpu')).toHaveLength(rows.length);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('merges cumulative members into a monotonic cumulative total, through a member reset', async () => {
    const out = new Capture();
    const p = processor([{ metrics: ['http.server.requests'], group_by: [] }], out);
    await p.consume(
      sumBatch(Temporality.Cumulative, [
        [{ host: 'h1' }, 10, 10n],
        [{ host: 'h2' }, 5, 10n],
      ]),
    );
    p.flush();
    await p.consume(
      sumBatch(Temporality.Cumulative, [
        [{ host: 'h1' }, 14, 20n],
        [{ host: 'h2' }, 2, 20n],
      ]),
    ); // h2 restarted
    p.flush();
    await p.shutdown();
    const totals = out.points().filter((x) => x.name === 'http.server.requests');
    expect(totals.map((t) => [t.value, t.start, t.time, t.temporality])).toEqual([
      [15, 1n, 10n, Temporality.Cumulative],
      [21, 1n, 20n, Temporality.Cumulative],
    ]);
  });

  it('does not merge a histogram whose bounds differ, even where an empty range starts', async () => {
    const out = new Capture();
    const p = processor([{ metrics: ['latency'], drop_attributes: ['host'] }], out);
    const { batch, h } = latencyHistogram(Temporality.Delta);
    // No bounds twice (the second is compared and found equal), then one bound: all three
    // ranges start at the same place in the batch.
    for (const host of ['a', 'b']) {
      batch.addHistogramPoint(batch.series(h, { host }), {
        startTime: 1n,
        time: 10n,
        count: 3,
        sum: 30,
        bounds: [],
        bucketCounts: [3],
      });
    }
    batch.addHistogramPoint(batch.series(h, { host: 'c' }), {
      startTime: 1n,
      time: 10n,
      count: 4,
      sum: 40,
      bounds: [1],
      bucketCounts: [1, 3],
    });
    await p.consume(batch);
    await p.shutdown();
    expect(p.dropped).toEqual({ histogram_bounds_differ: 1 });
    expect(out.points()).toMatchObject([{ name: 'latency', count: 6, sum: 60, counts: [6] }]);
  });

  it('merges histograms bucket by bucket and exponential histograms at the coarser scale', async () => {
    const out = new Capture();
    const p = processor([{ metrics: ['latency*'], drop_attributes: ['host'] }], out);
    const { batch, scope, h } = latencyHistogram(Temporality.Delta);
    const e = batch.addMetric(scope, {
      name: 'latency.exp',
      type: MetricType.ExponentialHistogram,
      temporality: Temporality.Delta,
    });
    batch.addHistogramPoint(batch.series(h, { host: 'a' }), {
      startTime: 1n,
      time: 10n,
      count: 3,
      sum: 30,
      min: 1,
      max: 20,
      bounds: [10],
      bucketCounts: [2, 1],
    });
    batch.addHistogramPoint(batch.series(h, { host: 'b' }), {
      startTime: 1n,
      time: 10n,
      count: 4,
      sum: 40,
      min: 0.5,
      max: 15,
      bounds: [10],
      bucketCounts: [1, 3],
    });
    // Scale 1 buckets 4,5 (offset 4) and scale 0 bucket 2: at scale 0, 4 and 5 become 2.
    batch.addExponentialHistogramPoint(batch.series(e, { host: 'a' }), {
      startTime: 1n,
      time: 10n,
      count: 3,
      sum: 9,
      scale: 1,
      zeroCount: 1,
      positive: { offset: 4, bucketCounts: [1, 1] },
    });
    batch.addExponentialHistogramPoint(batch.series(e, { host: 'b' }), {
      startTime: 1n,
      time: 10n,
      count: 2,
      sum: 6,
      scale: 0,
      zeroCount: 0,
      positive: { offset: 2, bucketCounts: [2] },
    });
    await p.consume(batch);
    await p.shutdown();
    const [histogram, exp] = out.points();
    expect(histogram).toMatchObject({
      name: 'latency',
      bounds: [10],
      start: 1n,
      counts: [3, 4],
      count: 7,
      sum: 70,
      min: 0.5,
      max: 20,
      attributes: {},
    });
    expect(exp.name).toBe('latency.exp');
    expect(exp.count).toBe(5);
    expect(exp.exp).toEqual({
      scale: 0,
      zero: 1,
      positive: { offset: 2, bucketCounts: BigUint64Array.from([4n]) },
    });
  });

  it('merges cumulative histograms by their changes, through a reset and a stale point', async () => {
    const out = new Capture();
    const p = processor([{ metrics: ['latency'], group_by: [] }], out);
    // Times past 2^32 ns, so both halves of the u64 words matter.
    const t = (n: number) => 10_000_000_000n + BigInt(n);
    const send = async (rows: [string, number, number[], bigint][]) => {
      const { batch, h } = latencyHistogram(Temporality.Cumulative);
      for (const [host, sum, bucketCounts, time] of rows) {
        batch.addHistogramPoint(batch.series(h, { host }), {
          startTime: t(0),
          time,
          count: bucketCounts.reduce((a, b) => a + b, 0),
          sum,
          bounds: [10],
          bucketCounts,
        });
      }
      await p.consume(batch);
      p.flush();
    };
    await send([
      ['a', 10, [1, 1], t(10)],
      ['b', 5, [2, 0], t(10)],
    ]);
    await send([
      ['a', 30, [2, 3], t(20)], // +1, +2
      ['b', 1, [1, 0], t(20)], // restarted: all of it counts
      ['b', 99, [50, 50], t(15)], // older than b's last point: nothing
    ]);
    await p.shutdown();
    const points = out.points();
    expect(points.map((x) => [x.counts, x.count, x.sum, x.start, x.time])).toEqual([
      [[3, 1], 4, 15, t(0), t(10)],
      [[5, 3], 8, 36, t(0), t(20)],
    ]);
  });

  it('reads int64 sums exactly and keeps times past 2^32 ns', async () => {
    const out = new Capture();
    const p = processor([{ metrics: ['bytes'], drop_attributes: ['host'] }], out);
    const batch = new MetricBatch();
    const scope = batch.addScope(batch.addResource());
    const m = batch.addMetric(scope, {
      name: 'bytes',
      type: MetricType.Sum,
      temporality: Temporality.Delta,
      monotonic: true,
    });
    const start = 1_700_000_000_000_000_000n;
    batch.addNumberPoint(batch.series(m, { host: 'a' }), {
      startTime: start,
      time: start + 5n,
      value: 2n ** 40n,
    });
    batch.addNumberPoint(batch.series(m, { host: 'b' }), {
      startTime: start - 3n,
      time: start + 4n,
      value: -7n,
    });
    await p.consume(batch);
    await p.shutdown();
    expect(out.points().map((x) => [x.value, x.start, x.time])).toEqual([
      [2 ** 40 - 7, start - 3n, start + 5n],
    ]);
  });

  it('keeps the last gauge value, or the mean when asked', async () => {
    for (const [mode, expected] of [
      ['last', 3],
      ['mean', 2],
    ] as const) {
      const out = new Capture();
      const p = processor([{ metrics: ['temp'], drop_attributes: ['sensor'], gauge: mode }], out);
      const batch = new MetricBatch();
      const scope = batch.addScope(batch.addResource());
      const g = batch.addMetric(scope, { name: 'temp', type: MetricType.Gauge });
      batch.addNumberPoint(batch.series(g, { sensor: 'x' }), { time: 10n, value: 1 });
      batch.addNumberPoint(batch.series(g, { sensor: 'y' }), { time: 30n, value: 3 });
      batch.addNumberPoint(batch.series(g, { sensor: 'z' }), { time: 20n, value: 2 });
      await p.consume(batch);
      await p.shutdown();
      expect(out.points()[0]).toMatchObject({ value: expected, start: 0n, time: 30n });
    }
  });

  it('forgets series silent for max_stale, after emitting what they brought', async () => {
    const { p, out, clock, send } = staleAggregate();
    await send([
      [{ host: 'h1', route: '/a' }, 10, 10n],
      [{ host: 'h2', route: '/a' }, 5, 10n],
      [{ host: 'h1', route: '/b' }, 7, 10n],
    ]);
    p.flush();
    expect(p.series).toEqual({ inputs: 3, outputs: 2 });
    clock.now += 90_000; // only h1 /a speaks again
    await send([[{ host: 'h1', route: '/a' }, 12, 20n]]);
    p.flush();
    // h2 /a and h1 /b were silent for 90 s > 1 m: forgotten, and with them output /b.
    expect(p.series).toEqual({ inputs: 1, outputs: 1 });
    clock.now += 10_000; // h2 /a comes back: a new series to us, its first point counts whole
    await send([[{ host: 'h2', route: '/a' }, 6, 30n]]);
    p.flush();
    await p.shutdown();
    const totals = out.points().filter((x) => x.name === 'http.server.requests');
    expect(totals.map((t) => [t.attributes.route, t.value])).toEqual([
      ['/a', 15],
      ['/b', 7],
      ['/a', 17],
      ['/a', 23],
    ]);
  });

  it('keeps an output whole when the inputs it was first made from are forgotten', async () => {
    // An output's attributes are read from one of its inputs: here the first input of each
    // output goes stale while later ones stay, and the survivors are renumbered into the
    // forgotten ones' places.
    const { p, out, clock, send } = staleAggregate();
    await send([
      [{ host: 'h1', route: '/a' }, 10, 10n],
      [{ host: 'h1', route: '/b' }, 20, 10n],
      [{ host: 'h2', route: '/b' }, 1, 10n],
      [{ host: 'h2', route: '/a' }, 2, 10n],
    ]);
    p.flush();
    clock.now += 90_000; // only the h2 inputs speak again
    await send([
      [{ host: 'h2', route: '/b' }, 4, 20n],
      [{ host: 'h2', route: '/a' }, 3, 20n],
    ]);
    p.flush();
    expect(p.series).toEqual({ inputs: 2, outputs: 2 });
    clock.now += 10_000; // h1 /a comes back: into the same output /a, counted whole
    await send([
      [{ host: 'h1', route: '/a' }, 5, 30n],
      [{ host: 'h2', route: '/b' }, 6, 30n],
    ]);
    p.flush();
    expect(p.series).toEqual({ inputs: 3, outputs: 2 });
    await p.shutdown();
    const totals = out.points().filter((x) => x.name === 'http.server.requests');
    expect(totals.map((t) => [t.attributes, t.value])).toEqual([
      [{ route: '/a' }, 12],
      [{ route: '/b' }, 21],
      [{ route: '/a' }, 13],
      [{ route: '/b' }, 24],
      [{ route: '/a' }, 18],
      [{ route: '/b' }, 26],
    ]);
  });

  it('validates rules', () => {
    expect(
      aggregateConfig.safeParse({
        rules: [{ metrics: ['x'], group_by: ['a'], drop_attributes: ['b'] }],
      }).success,
    ).toBe(false);
    expect(aggregateConfig.safeParse({ rules: [{ metrics: ['x'] }] }).success).toBe(false);
    expect(aggregateConfig.safeParse({ rules: [] }).success).toBe(false);
  });
});

describe('cardinality_limit processor', () => {
  it('passes the first max_series - 1 series and merges the rest into the overflow series', async () => {
    const out = new Capture();
    const limiter = new CardinalityLimitProcessor(
      settings,
      { max_series: 3, overflow_interval: 3_600_000 },
      out,
    );
    await limiter.start();
    const delta = (rows: [string, number][], time: bigint) =>
      sumBatch(
        Temporality.Delta,
        rows.map(([host, value]) => [{ host }, value, time]),
      );
    await limiter.consume(
      delta(
        [
          ['h1', 1],
          ['h2', 2],
          ['h3', 5],
          ['h4', 7],
        ],
        10n,
      ),
    );
    await limiter.consume(
      delta(
        [
          ['h1', 1],
          ['h3', 1],
        ],
        20n,
      ),
    );
    expect(limiter.overflowed).toBe(3);
    limiter.flushOverflow();
    await limiter.shutdown();
    const requests = out.points().filter((p) => p.name === 'http.server.requests');
    const regular = requests.filter((p) => !('otel.metric.overflow' in p.attributes));
    expect(regular.map((p) => [p.attributes.host, p.value])).toEqual([
      ['h1', 1],
      ['h2', 2],
      ['h1', 1],
    ]);
    const overflow = requests.filter((p) => p.attributes['otel.metric.overflow'] === true);
    expect(overflow.map((p) => p.value)).toEqual([13]);
    // The unrelated gauge in each batch is its own metric, well under the limit.
    expect(out.points().filter((p) => p.name === 'process.cpu')).toHaveLength(2);
  });

  it('keeps the overflow of cumulative series monotonic', async () => {
    const out = new Capture();
    const limiter = new CardinalityLimitProcessor(
      settings,
      { max_series: 2, overflow_interval: 3_600_000 },
      out,
    );
    await limiter.consume(
      sumBatch(Temporality.Cumulative, [
        [{ host: 'h1' }, 1, 10n],
        [{ host: 'h2' }, 10, 10n],
        [{ host: 'h3' }, 20, 10n],
      ]),
    );
    limiter.flushOverflow();
    await limiter.consume(
      sumBatch(Temporality.Cumulative, [
        [{ host: 'h1' }, 2, 20n],
        [{ host: 'h2' }, 15, 20n],
        [{ host: 'h3' }, 25, 20n],
      ]),
    );
    limiter.flushOverflow();
    await limiter.shutdown();
    const overflow = out.points().filter((p) => p.attributes['otel.metric.overflow'] === true);
    expect(overflow.map((p) => [p.value, p.temporality])).toEqual([
      [30, Temporality.Cumulative],
      [40, Temporality.Cumulative],
    ]);
  });
});

describe('aggregate processor, scanned requests (the collector fast path)', () => {
  const rules = [{ metrics: ['m.*'], drop_attributes: ['host'] }];
  const pointSpec = fc.record({
    metric: fc.nat(SCAN_METRICS.length - 1),
    resource: fc.nat(1),
    set: fc.nat(SCAN_SETS.length - 1),
    value: fc.nat(1000),
    int: fc.boolean(),
    otherBounds: fc.boolean().map((b) => b && Math.random() < 0.2),
  });

  it('emits exactly what decoding every request emits (property)', async () => {
    let takenRuns = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            points: fc.array(pointSpec, { minLength: 1, maxLength: 12 }),
            flush: fc.boolean(),
            repeat: fc.nat(2),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        async (requests) => {
          const clock = () => 1_000;
          const decoded = new Capture();
          const scanned = new Capture();
          const a = processor(rules, decoded, clock);
          const b = processor(rules, scanned, clock);
          const scanner = new MetricsRequestScanner(b);
          let time = 10n;
          let taken = 0;
          for (const { points, flush, repeat } of requests) {
            // Repeats send the same series again, later: the case the fast path is for.
            for (let k = 0; k <= repeat; k++) {
              time += 10n;
              const body = scanRequest(points, time);
              await a.consume(decodeMetricsRequest(body));
              const n = scanner.scan(body);
              if (n === -1) await b.consume(decodeMetricsRequest(body));
              else {
                expect(n).toBe(points.length);
                taken++;
              }
            }
            if (flush) {
              a.flush();
              b.flush();
            }
          }
          a.flush();
          b.flush();
          await a.shutdown();
          await b.shutdown();
          // Emits are asynchronous and may land before or after a pass-through batch: compare
          // the points, not the batches' order.
          expect(sortedPoints(scanned)).toEqual(sortedPoints(decoded));
          expect(b.dropped).toEqual(a.dropped);
          // Some requests were taken by the scan, or the comparison proves little.
          if (taken > 0) takenRuns++;
        },
      ),
      { numRuns: 150 },
    );
    expect(takenRuns).toBeGreaterThan(50);
  });

  it('takes a known request whole and leaves the state untouched when any point is new', async () => {
    const out = new Capture();
    const p = processor(rules, out, () => 1_000);
    const scanner = new MetricsRequestScanner(p);
    const known: PointSpec[] = [0, 1, 2].map((set) => ({
      metric: 0,
      resource: 0,
      set,
      value: 10,
      int: true,
      otherBounds: false,
    }));
    const first = scanRequest(known, 20n);
    expect(scanner.scan(first)).toBe(-1); // every series new
    await p.consume(decodeMetricsRequest(first));
    expect(
      scanner.scan(
        scanRequest(
          known.map((x) => ({ ...x, value: 15 })),
          30n,
        ),
      ),
    ).toBe(3);
    // A fourth series at the end: refused after three points were checked, none applied.
    const withNew = [...known, { ...known[0], set: 3 }].map((x) => ({ ...x, value: 100 }));
    expect(scanner.scan(scanRequest(withNew, 40n))).toBe(-1);
    p.flush();
    await p.shutdown();
    // Cumulative totals per route: /a gets h1 + h2, /b gets h1: 15 each (not 100).
    const totals = out
      .points()
      .filter((x) => x.name === 'm.sum')
      .map((x) => [x.attributes.route, x.value]);
    expect(totals).toEqual([
      ['/a', 30],
      ['/b', 15],
    ]);
  });

  /** A processor that has seen one series (`spec`, at time 10), and a scanner for it. */
  async function primed() {
    const p = processor(rules, new Capture(), () => 1_000);
    const scanner = new MetricsRequestScanner(p);
    const spec: PointSpec = {
      metric: 0,
      resource: 0,
      set: 0,
      value: 1,
      int: true,
      otherBounds: false,
    };
    await p.consume(decodeMetricsRequest(scanRequest([spec], 10n)));
    return { p, scanner, spec };
  }

  it('after eight requests in a row it could not take, tries one in sixteen', async () => {
    const { p, scanner, spec } = await primed();
    const other = scanRequest([{ ...spec, metric: 5 }], 20n);
    for (let k = 0; k < 8; k++) expect(scanner.scan(other)).toBe(-1);
    const known = (k: number) => scanRequest([spec], 30n + BigInt(k));
    const results = Array.from({ length: 16 }, (_, k) => scanner.scan(known(k)));
    expect(results.filter((n) => n === 1)).toHaveLength(1);
    // Taken once: trying every request again.
    expect(scanner.scan(known(100))).toBe(1);
    await p.shutdown();
  });

  it('leaves requests it cannot take as they are to the decoder', async () => {
    const { p, scanner, spec } = await primed();
    expect(scanner.scan(scanRequest([spec], 20n))).toBe(1);
    // Flags (no recorded value) and exemplars: not read by the scan.
    expect(scanner.scan(scanRequest([{ ...spec, flags: 1 }], 30n))).toBe(-1);
    const exemplar: Exemplar = {
      time: 30n,
      value: 2,
      filteredAttributes: [],
      spanId: new Uint8Array(8),
      traceId: new Uint8Array(16),
    };
    expect(scanner.scan(scanRequest([{ ...spec, exemplars: [exemplar] }], 30n))).toBe(-1);
    // A metric no rule selects.
    expect(scanner.scan(scanRequest([{ ...spec, metric: 5 }], 30n))).toBe(-1);
    // A truncated body: the scan says -1 and the decoder says what is wrong.
    const truncated = scanRequest([spec], 40n).subarray(0, 30);
    expect(scanner.scan(truncated)).toBe(-1);
    expect(() => decodeMetricsRequest(truncated)).toThrow(DecodeError);
    await p.shutdown();
  });
});
