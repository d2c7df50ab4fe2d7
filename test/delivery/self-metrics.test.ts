import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryEngine, OtlpHttpSender } from '../../src/index.js';
import { counterBatch } from '../helpers/batches.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

let sink: OtlpSink;
beforeEach(async () => {
  sink = new OtlpSink();
  await sink.start();
});
afterEach(async () => {
  await sink.stop();
});

describe('self-metrics', () => {
  it('reports where every point went, queue capacity, retries and send durations', async () => {
    const memory = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({
      exporter: memory,
      exportIntervalMillis: 60_000,
    });
    const meterProvider = new MeterProvider({ readers: [reader] });
    sink.reply = (_r, index) =>
      index === 0 ? { status: 400 } : index === 1 ? { status: 503 } : {};
    const engine = new DeliveryEngine({
      sender: new OtlpHttpSender({ url: sink.url }),
      meterProvider,
      queue: { maxPoints: 1000 },
      retry: { initialIntervalMs: 10, maxIntervalMs: 10 },
      batch: { flushIntervalMs: 1 },
      logger: pino({ level: 'silent' }),
    });
    await engine.consume(counterBatch(4).batch); // 400: dropped (no dead-letter dir)
    await engine.forceFlush();
    await engine.consume(counterBatch(6).batch); // 503 then 200: one retry
    await engine.forceFlush();
    await reader.forceFlush();
    const metrics = memory.getMetrics().at(-1)!.scopeMetrics[0].metrics;
    const value = (name: string, attributes: Record<string, string> = {}) => {
      const metric = metrics.find((m) => m.descriptor.name === name);
      const point = metric?.dataPoints.find((p) =>
        Object.entries(attributes).every(([k, v]) => p.attributes[k] === v),
      );
      return point?.value;
    };
    const destination = sink.url;
    expect(value('sluice.exporter.accepted_points', { destination })).toBe(10);
    expect(value('sluice.exporter.sent_points', { destination })).toBe(6);
    expect(value('sluice.dropped_points', { destination, reason: 'permanent' })).toBe(4);
    expect(value('sluice.exporter.retries', { destination })).toBe(1);
    expect(value('sluice.exporter.requests', { destination })).toBe(3);
    expect(value('sluice.exporter.queue.capacity_points', { destination })).toBe(1000);
    expect(value('sluice.exporter.queue.points', { destination })).toBe(0);
    expect(value('sluice.exporter.breaker.state', { destination })).toBe(0);
    const durations = metrics.find((m) => m.descriptor.name === 'sluice.exporter.send.duration')!;
    const outcomes = Object.fromEntries(
      durations.dataPoints.map((p) => [p.attributes.outcome, (p.value as { count: number }).count]),
    );
    expect(outcomes).toEqual({ permanent: 1, retryable: 1, success: 1 });
    await engine.shutdown();
    // After shutdown the engine is no longer observed: its callback was unregistered.
    engine.stats.accepted += 5;
    memory.reset();
    await reader.forceFlush();
    const after = memory.getMetrics().at(-1)?.scopeMetrics[0]?.metrics ?? [];
    const acceptedAfter = after.find(
      (m) => m.descriptor.name === 'sluice.exporter.accepted_points',
    );
    expect(acceptedAfter?.dataPoints[0]?.value ?? 10).toBe(10);
    await meterProvider.shutdown();
  });

  it('reports a persistent queue: requests and bytes stored, oldest age', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-self-'));
    const memory = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({
      exporter: memory,
      exportIntervalMillis: 60_000,
    });
    const meterProvider = new MeterProvider({ readers: [reader] });
    sink.reply = () => ({ status: 503 });
    const engine = new DeliveryEngine({
      sender: new OtlpHttpSender({ url: sink.url }),
      meterProvider,
      storage: {
        directory: dir,
        fsync: 'never',
        fsyncIntervalMs: 200,
        maxSizeBytes: 1 << 24,
        whenFull: 'block',
      },
      retry: { initialIntervalMs: 1000, maxIntervalMs: 1000 },
      batch: { flushIntervalMs: 1 },
      logger: pino({ level: 'silent' }),
    });
    await engine.open();
    await engine.consume(counterBatch(5).batch);
    await engine.consume(counterBatch(5).batch);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await reader.forceFlush();
    const metrics = memory.getMetrics().at(-1)!.scopeMetrics[0].metrics;
    const value = (name: string) =>
      metrics.find((m) => m.descriptor.name === name)?.dataPoints[0]?.value as number;
    expect(value('sluice.exporter.storage.records')).toBe(2);
    expect(value('sluice.exporter.storage.bytes')).toBeGreaterThan(100);
    expect(value('sluice.exporter.storage.oldest_age')).toBeGreaterThanOrEqual(0);
    expect(value('sluice.exporter.storage.replayed_points')).toBe(0);
    await engine.shutdown({ deadlineMs: 100 });
    await rm(dir, { recursive: true, force: true });
  });
});
