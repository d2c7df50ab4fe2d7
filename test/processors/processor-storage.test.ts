import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../../src/extensions/filestorage/file-storage.js';
import type { Consumer } from '../../src/model/consumer.js';
import type { MetricBatch } from '../../src/model/metric-batch.js';
import { Temporality } from '../../src/model/types.js';
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
