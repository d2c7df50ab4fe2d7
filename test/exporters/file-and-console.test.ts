import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConsoleSender,
  DeliveryEngine,
  FileSender,
  MetricBatch,
  MetricType,
  SluiceMetricExporter,
  Temporality,
} from '../../src/index.js';
import { counterBatch } from '../helpers/batches.js';
import { collectSdkMetrics } from '../helpers/sdk-data.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FileSender', () => {
  it('appends flat JSON lines and rotates by size, keeping the newest backups', async () => {
    const path = join(dir, 'out', 'metrics.jsonl');
    const sender = new FileSender({ path, maxBytes: 4_000, maxBackups: 2 });
    const engine = new DeliveryEngine({
      sender,
      batch: { maxPoints: 10, flushIntervalMs: 1 },
      logger: pino({ level: 'silent' }),
    });
    const ids: string[] = [];
    for (let k = 0; k < 10; k++) {
      const { batch, ids: batchIds } = counterBatch(10);
      ids.push(...batchIds);
      await engine.consume(batch);
      await engine.forceFlush();
    }
    await engine.shutdown();
    const files = (await readdir(join(dir, 'out'))).sort();
    expect(files).toEqual(['metrics.jsonl', 'metrics.jsonl.1', 'metrics.jsonl.2']);
    const lines: Record<string, unknown>[] = [];
    for (const file of ['metrics.jsonl.2', 'metrics.jsonl.1', 'metrics.jsonl']) {
      const text = await readFile(join(dir, 'out', file), 'utf8');
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4_000);
      lines.push(
        ...text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      );
    }
    // The oldest data rotated away; what is kept is the newest, in order, whole lines.
    const kept = lines.map((l) => (l.attributes as { id: string }).id);
    expect(kept).toEqual(ids.slice(ids.length - kept.length));
    expect(lines[0]).toMatchObject({
      name: 'requests',
      type: 'sum',
      temporality: 'cumulative',
      monotonic: true,
    });
  });

  it('writes one OTLP/JSON request per line in otlp_json format', async () => {
    const path = join(dir, 'otlp.jsonl');
    const sender = new FileSender({ path, format: 'otlp_json' });
    await sender.send(counterBatch(3).batch);
    await sender.send(counterBatch(2).batch);
    await sender.close();
    const lines = (await readFile(path, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0].resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints).toHaveLength(3);
  });

  it('is a destination of SluiceMetricExporter', async () => {
    const path = join(dir, 'sdk.jsonl');
    const exporter = new SluiceMetricExporter({
      file: { path },
      logger: pino({ level: 'silent' }),
      batch: { flushIntervalMs: 1 },
    });
    // Garbage from a broken caller fails that export, and the next one still works.
    const broken = await new Promise<{ code: number }>((resolve) =>
      exporter.export({} as never, resolve),
    );
    expect(broken.code).toBe(1);
    const rm = await collectSdkMetrics({ series: 2 });
    const ok = await new Promise<{ code: number }>((resolve) => exporter.export(rm, resolve));
    expect(ok.code).toBe(0);
    await exporter.shutdown();
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(12);
  });
});

describe('ConsoleSender', () => {
  it('prints one readable line per point', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk) => {
      text += chunk;
    });
    const batch = new MetricBatch();
    const scope = batch.addScope(batch.addResource());
    const c = batch.addMetric(scope, {
      name: 'orders',
      type: MetricType.Sum,
      temporality: Temporality.Delta,
      monotonic: true,
      unit: '{order}',
    });
    const h = batch.addMetric(scope, {
      name: 'latency',
      type: MetricType.Histogram,
      temporality: Temporality.Cumulative,
      unit: 'ms',
    });
    batch.addNumberPoint(batch.series(c, { region: 'eu' }), {
      time: 1_700_000_000_000_000_000n,
      value: 7n,
    });
    batch.addHistogramPoint(batch.series(h, {}), {
      time: 1_700_000_000_000_000_000n,
      count: 3,
      sum: 12,
      bounds: [5, 10],
      bucketCounts: [1, 1, 1],
    });
    await new ConsoleSender(out).send(batch);
    expect(text.split('\n')).toEqual([
      'orders{region="eu"} 7 {order}  (counter, delta) 2023-11-14T22:13:20.000000000Z',
      'latency{} count=3 sum=12 ms [≤5:1 ≤10:1 >10:1]  (histogram, cumulative) 2023-11-14T22:13:20.000000000Z',
      '',
    ]);
  });
});
