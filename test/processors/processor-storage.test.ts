import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../../src/extensions/filestorage/file-storage.js';
import { KeyValueList } from '../../src/model/any-value.js';
import type { Consumer } from '../../src/model/consumer.js';
import { MetricBatch } from '../../src/model/metric-batch.js';
import { MetricType, Temporality } from '../../src/model/types.js';
import { AggregateProcessor } from '../../src/processors/aggregate/aggregate-processor.js';
import { aggregateConfig } from '../../src/processors/aggregate/config.js';
import { DeltaToCumulativeProcessor } from '../../src/processors/deltatocumulative/delta-to-cumulative-processor.js';
import { IntervalProcessor } from '../../src/processors/interval/interval-processor.js';
import { monotonicSums } from '../helpers/batches.js';

// Stateful processors with `storage`: what they hold survives a crash. A crash is a copy of
// the storage directory taken while the processor runs (no shutdown, no flush), which a new
// processor then starts from.

const logger = pino({ level: 'silent' });
const dirs: string[] = [];
const toClose: { shutdown(): Promise<void> }[] = [];

afterEach(async () => {
  for (const processor of toClose.splice(0)) await processor.shutdown();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-state-'));
  dirs.push(dir);
  return dir;
}

function settingsIn(directory: string, id: string) {
  const storage = new FileStorage(
    { id: 'file_storage', logger },
    {
      directory,
      create_directory: true,
      fsync: 'never',
      fsync_interval: 200,
      max_size_bytes: 1 << 30,
      when_full: 'block',
    },
  );
  return { id, logger, storage: () => storage };
}

/** The directory as a crash leaves it: whatever was written, locks of a dead process. */
async function crashCopy(from: string): Promise<string> {
  const to = await tempDir();
  await cp(from, to, { recursive: true, filter: (source) => !source.endsWith('LOCK') });
  return to;
}

class Capture implements Consumer {
  readonly batches: MetricBatch[] = [];
  async consume(batch: MetricBatch): Promise<void> {
    this.batches.push(batch);
  }
  /** Every point as `series start time value`. */
  points(): string[] {
    return this.batches.flatMap((b) =>
      [...b.pointViews()].map(
        (p) => `${p.attributes[0].value} ${p.startTime} ${p.time} ${p.exactValue}`,
      ),
    );
  }
}

const delta = (series: string, time: bigint, value: number) =>
  monotonicSums(Temporality.Delta, [{ series, start: time - 1n, time, value }]);

describe('deltatocumulative with storage', () => {
  async function started(dir: string, out: Consumer) {
    const processor = new DeltaToCumulativeProcessor(
      settingsIn(dir, 'deltatocumulative'),
      { max_stale: 300_000, max_streams: 100_000, storage: 'file_storage' },
      out,
    );
    await processor.start();
    toClose.push(processor);
    return processor;
  }

  it('continues every total after a crash, without a reset', async () => {
    const dir = await tempDir();
    const before = new Capture();
    const first = await started(dir, before);
    await first.consume(delta('a', 10n, 1));
    await first.consume(delta('a', 11n, 2));
    await first.consume(delta('b', 11n, 5));
    expect(before.points()).toEqual(['a 9 10 1', 'a 9 11 3', 'b 10 11 5']);

    const after = new Capture();
    const second = await started(await crashCopy(dir), after);
    await second.consume(delta('a', 12n, 4));
    await second.consume(delta('b', 12n, 1));
    // The same start times and running totals: no reset, no double count.
    expect(after.points()).toEqual(['a 9 12 7', 'b 10 12 6']);
  });

  it('restores from a snapshot plus the entries after it', async () => {
    const dir = await tempDir();
    const first = await started(dir, new Capture());
    // Enough series that the journal passes 1 MiB and a snapshot is written.
    const many = (time: bigint) =>
      monotonicSums(
        Temporality.Delta,
        Array.from({ length: 12_000 }, (_, k) => ({
          series: `s${k}`,
          start: time - 1n,
          time,
          value: 1,
        })),
      );
    for (let t = 1n; t <= 8n; t++) await first.consume(many(t));
    await first.consume(delta('s7', 9n, 10));
    await new Promise((resolve) => setTimeout(resolve, 200)); // the snapshot is written behind
    expect((await readdir(join(dir, 'processor_deltatocumulative'))).sort()).toContain('snapshot');
    const after = new Capture();
    const second = await started(await crashCopy(dir), after);
    expect(second.series).toBe(12_000);
    await second.consume(delta('s7', 10n, 1));
    await second.consume(delta('s8', 10n, 1));
    expect(after.points()).toEqual(['s7 1 10 19', 's8 1 10 9']);
  }, 30_000);

  it('journals nothing the next component refused', async () => {
    const dir = await tempDir();
    let refuse = false;
    const out = new Capture();
    const first = await started(dir, {
      consume: async (batch) => {
        if (refuse) throw new Error('queue full');
        await out.consume(batch);
      },
    });
    await first.consume(delta('a', 10n, 1));
    refuse = true;
    await expect(first.consume(delta('a', 11n, 2))).rejects.toThrow('queue full');
    const after = new Capture();
    const second = await started(await crashCopy(dir), after);
    await second.consume(delta('a', 12n, 4));
    expect(after.points()).toEqual(['a 9 12 5']);
  });
});

describe('interval with storage', () => {
  async function started(dir: string, out: Consumer) {
    const processor = new IntervalProcessor(
      settingsIn(dir, 'interval'),
      { interval: 3_600_000, storage: 'file_storage' },
      out,
    );
    await processor.start();
    toClose.push(processor);
    return processor;
  }
  const cumulative = (series: string, time: bigint, value: number) =>
    monotonicSums(Temporality.Cumulative, [{ series, start: 1n, time, value }]);

  it('emits after a crash what it held before it', async () => {
    const dir = await tempDir();
    const first = await started(dir, new Capture());
    await first.consume(cumulative('a', 10n, 1));
    await first.consume(cumulative('a', 11n, 2));
    await first.consume(cumulative('b', 11n, 7));
    const after = new Capture();
    const second = await started(await crashCopy(dir), after);
    second.flush();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(after.points().sort()).toEqual(['a 1 11 2', 'b 1 11 7']);
  });

  it('forgets what an accepted emit carried', async () => {
    const dir = await tempDir();
    const before = new Capture();
    const first = await started(dir, before);
    await first.consume(cumulative('a', 10n, 1));
    first.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(before.points()).toEqual(['a 1 10 1']);
    await first.consume(cumulative('b', 12n, 3));
    const after = new Capture();
    const second = await started(await crashCopy(dir), after);
    second.flush();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(after.points()).toEqual(['b 1 12 3']);
  });
});

describe('aggregate with storage', () => {
  /**
   * Step `k` of a load of every kind the aggregate merges: cumulative sums and histograms
   * from two hosts per route (host is aggregated away), delta sums, gauges, cumulative
   * exponential histograms; a resource with an int64 and a kvlist attribute.
   */
  function step(k: number): MetricBatch {
    const batch = new MetricBatch();
    const resource = batch.addResource({
      attributes: {
        'service.name': 'api',
        'process.pid': 12345n,
        deployment: new KeyValueList([{ key: 'zone', value: 'eu-1' }]),
      },
    });
    const scope = batch.addScope(resource, { name: 'lib' });
    const time = BigInt(1000 + k);
    const cumulative = batch.addMetric(scope, {
      name: 'requests',
      type: MetricType.Sum,
      temporality: Temporality.Cumulative,
      monotonic: true,
    });
    const deltas = batch.addMetric(scope, {
      name: 'bytes',
      type: MetricType.Sum,
      temporality: Temporality.Delta,
      monotonic: true,
    });
    const gauge = batch.addMetric(scope, { name: 'temperature', type: MetricType.Gauge });
    const histogram = batch.addMetric(scope, {
      name: 'latency',
      type: MetricType.Histogram,
      temporality: Temporality.Cumulative,
    });
    const exponential = batch.addMetric(scope, {
      name: 'size',
      type: MetricType.ExponentialHistogram,
      temporality: Temporality.Cumulative,
    });
    for (const route of ['/a', '/b']) {
      for (const host of ['h1', 'h2']) {
        const n = k * (host === 'h1' ? 3 : 5) + (route === '/a' ? 1 : 2);
        const attributes = { route, host };
        // h2 restarts at step 4: its cumulative values drop (a reset the aggregate sees).
        const c = host === 'h2' && k >= 4 ? n - 20 : n;
        batch.addNumberPoint(batch.series(cumulative, attributes), {
          startTime: 1n,
          time,
          value: c,
        });
        batch.addNumberPoint(batch.series(deltas, attributes), {
          startTime: time - 1n,
          time,
          value: k,
        });
        batch.addNumberPoint(batch.series(gauge, attributes), { time, value: n / 10 });
        batch.addHistogramPoint(batch.series(histogram, attributes), {
          startTime: 1n,
          time,
          count: 3 * n,
          sum: 10 * n,
          bounds: [1, 10],
          bucketCounts: [n, n, n],
        });
        batch.addExponentialHistogramPoint(batch.series(exponential, attributes), {
          startTime: 1n,
          time,
          count: 2 * n,
          sum: n,
          scale: 2,
          zeroCount: 0,
          positive: { offset: 1, bucketCounts: [n, n] },
        });
      }
    }
    return batch;
  }

  class Outputs implements Consumer {
    readonly lines: string[] = [];
    async consume(batch: MetricBatch): Promise<void> {
      for (const p of batch.pointViews()) {
        const attributes = p.attributes.map((a) => `${a.key}=${a.value}`).join(',');
        const values = p.isDistribution
          ? `${p.count}/${p.sum}/${p.metric.type === MetricType.Histogram ? [...p.bucketCounts] : JSON.stringify(p.positive, (_, v) => (typeof v === 'bigint' ? Number(v) : v))}`
          : String(p.value);
        this.lines.push(`${p.metric.name}{${attributes}} ${p.startTime} ${p.time} ${values}`);
      }
    }
  }

  const rules = [
    { metrics: ['requests', 'bytes', 'latency', 'size'], drop_attributes: ['host'] },
    { metrics: ['temperature'], drop_attributes: ['host'], gauge: 'mean' },
  ];

  async function started(dir: string | undefined, out: Consumer) {
    const processor = new AggregateProcessor(
      dir ? settingsIn(dir, 'aggregate') : { id: 'aggregate', logger },
      aggregateConfig.parse({ interval: '1h', rules, ...(dir ? { storage: 'file_storage' } : {}) }),
      out,
    );
    await processor.start();
    toClose.push(processor);
    return processor;
  }

  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  /** Steps `from` to `to` of the load into each of `processors`, each step emitted. */
  async function run(processors: AggregateProcessor[], from: number, to: number) {
    for (let k = from; k <= to; k++) {
      for (const p of processors) {
        await p.consume(step(k));
        p.flush();
      }
      await settle();
    }
  }

  /**
   * Starts from the state in `dir` (what steps 1-3 left) and checks that it goes on as
   * `unbroken` (which ran steps 1-3 into `reference`) does: the same series, then the same
   * outputs for steps 4-6.
   */
  async function expectGoesOnFrom(dir: string, unbroken: AggregateProcessor, reference: Outputs) {
    const emittedBefore = reference.lines.length;
    const after = new Outputs();
    const restarted = await started(dir, after);
    expect(restarted.series).toEqual(unbroken.series);
    await run([unbroken, restarted], 4, 6);
    expect(after.lines.length).toBeGreaterThan(0);
    expect(after.lines).toEqual(reference.lines.slice(emittedBefore));
  }

  it('goes on after a crash exactly as a process that never crashed', async () => {
    const dir = await tempDir();
    const reference = new Outputs();
    const unbroken = await started(undefined, reference);
    await run([unbroken, await started(dir, new Outputs())], 1, 3);
    await expectGoesOnFrom(await crashCopy(dir), unbroken, reference);
  });

  it('loads a snapshot written when outputs were objects, and goes on as before', async () => {
    // Written by the aggregate of commit 280214d (an object per output) after steps 1-3 of
    // this load; the snapshot's form is the same since, and must keep loading.
    const dir = await tempDir();
    await cp(new URL('./fixtures/aggregate-state-objects', import.meta.url).pathname, dir, {
      recursive: true,
    });
    const reference = new Outputs();
    const unbroken = await started(undefined, reference);
    await run([unbroken], 1, 3);
    await expectGoesOnFrom(dir, unbroken, reference);
  });

  it('keeps restored outputs as they were when the rules changed across the restart', async () => {
    // The outputs' sets are read from their inputs through the rules of the day; restored
    // under other rules, an output must keep the set it was stored with.
    const dir = await tempDir();
    await run([await started(dir, new Outputs())], 1, 3);
    const after = new Outputs();
    const restarted = new AggregateProcessor(
      settingsIn(await crashCopy(dir), 'aggregate'),
      aggregateConfig.parse({
        interval: '1h',
        storage: 'file_storage',
        rules: [{ metrics: ['requests', 'bytes', 'latency', 'size'], drop_attributes: ['route'] }],
      }),
      after,
    );
    await restarted.start();
    toClose.push(restarted);
    await run([restarted], 4, 4);
    const requests = after.lines.filter((line) => line.startsWith('requests{'));
    expect(requests.map((line) => line.split(' ')[0])).toEqual([
      'requests{route=/a}',
      'requests{route=/b}',
    ]);
  });

  it('counts the delta points a crash lost since the last snapshot', async () => {
    const dir = await tempDir();
    const first = await started(dir, new Outputs());
    await first.consume(step(1));
    first.flush();
    await settle();
    await first.consume(step(2)); // 4 delta points, merged after the snapshot
    await new Promise((resolve) => setTimeout(resolve, 1300)); // journaled every second
    const restarted = await started(await crashCopy(dir), new Outputs());
    expect(restarted.dropped).toEqual({ lost_on_restart: 4 });
  });
});
