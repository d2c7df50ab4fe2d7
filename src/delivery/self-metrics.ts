import type {
  Attributes,
  BatchObservableCallback,
  BatchObservableResult,
  Histogram,
  MeterProvider,
  Observable,
} from '@opentelemetry/api';
import { metrics } from '@opentelemetry/api';
import type { BreakerState } from './circuit-breaker.js';
import type { DeliveryStats } from './delivery-stats.js';
import type { Queue } from './memory-queue.js';

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export interface SelfMetricsSource {
  readonly destination: string;
  readonly stats: DeliveryStats;
  readonly queue: Queue;
  readonly breakerState: BreakerState | undefined;
}

/**
 * The delivery engine's own metrics through `@opentelemetry/api`: where every point went,
 * queue fill, retries, breaker state and send latency, each tagged with the destination.
 * Counters are observed from `DeliveryStats` at collection time (one batch callback), so the
 * hot path only bumps plain numbers. `close()` unregisters it.
 */
export class SelfMetrics {
  readonly #sendDuration: Histogram;
  readonly #attributes: Attributes;
  readonly #close: () => void;

  constructor(
    source: SelfMetricsSource,
    meterProvider: MeterProvider = metrics.getMeterProvider(),
  ) {
    const meter = meterProvider.getMeter('sluice');
    const attributes: Attributes = { destination: source.destination };
    this.#attributes = attributes;
    const points = { unit: '{point}' };
    const accepted = meter.createObservableCounter('sluice.exporter.accepted_points', {
      ...points,
      description: 'Points accepted into the queue',
    });
    const sent = meter.createObservableCounter('sluice.exporter.sent_points', {
      ...points,
      description: 'Points the backend accepted',
    });
    const rejected = meter.createObservableCounter('sluice.exporter.rejected_points', {
      ...points,
      description: 'Points the backend refused in a partial success',
    });
    const deadLettered = meter.createObservableCounter('sluice.exporter.dead_lettered_points', {
      ...points,
      description: 'Points written to dead letters, by reason',
    });
    const dropped = meter.createObservableCounter('sluice.dropped_points', {
      ...points,
      description: 'Points lost, by reason',
    });
    const refused = meter.createObservableCounter('sluice.exporter.refused_points', {
      ...points,
      description: 'Points refused at the door (the caller was told), by reason',
    });
    const retries = meter.createObservableCounter('sluice.exporter.retries', {
      unit: '{attempt}',
      description: 'Send attempts retried',
    });
    const requests = meter.createObservableCounter('sluice.exporter.requests', {
      unit: '{request}',
      description: 'Requests sent, retries included',
    });
    const queuePoints = meter.createObservableGauge('sluice.exporter.queue.points', {
      ...points,
      description: 'Points waiting in the queue',
    });
    const queueBytes = meter.createObservableGauge('sluice.exporter.queue.bytes', {
      unit: 'By',
      description: 'Encoded bytes waiting in the queue',
    });
    const capacity = meter.createObservableGauge('sluice.exporter.queue.capacity_points', {
      ...points,
      description: 'Queue capacity',
    });
    const breaker = meter.createObservableGauge('sluice.exporter.breaker.state', {
      description: 'Circuit breaker: 0 closed, 1 half-open, 2 open',
    });
    // A persistent queue's own figures (observed only when the queue is one).
    const storageRecords = meter.createObservableGauge('sluice.exporter.storage.records', {
      unit: '{request}',
      description: 'Requests in the persistent queue not yet delivered',
    });
    const storageBytes = meter.createObservableGauge('sluice.exporter.storage.bytes', {
      unit: 'By',
      description: 'Bytes of those requests on disk',
    });
    const oldestAge = meter.createObservableGauge('sluice.exporter.storage.oldest_age', {
      unit: 's',
      description: 'Age of the oldest undelivered request',
    });
    const replayed = meter.createObservableCounter('sluice.exporter.storage.replayed_points', {
      ...points,
      description: 'Points found in the persistent queue at start and replayed',
    });
    const corrupt = meter.createObservableCounter('sluice.exporter.storage.corrupt_records', {
      unit: '{request}',
      description: 'Stored requests skipped: torn or failing their checksum',
    });
    const observables: Observable[] = [
      accepted,
      sent,
      rejected,
      deadLettered,
      dropped,
      refused,
      retries,
      requests,
      queuePoints,
      queueBytes,
      capacity,
      breaker,
      storageRecords,
      storageBytes,
      oldestAge,
      replayed,
      corrupt,
    ];

    const { stats, queue } = source;
    const byReason = (
      result: BatchObservableResult,
      observable: Observable,
      counts: Record<string, number>,
    ) => {
      for (const [reason, value] of Object.entries(counts))
        result.observe(observable, value, { ...attributes, reason });
    };
    const callback: BatchObservableCallback = (result) => {
      result.observe(accepted, stats.accepted, attributes);
      result.observe(sent, stats.sent, attributes);
      result.observe(rejected, stats.rejected, attributes);
      byReason(result, deadLettered, stats.deadLettered);
      byReason(result, dropped, stats.dropped);
      byReason(result, refused, stats.refused);
      result.observe(retries, stats.retries, attributes);
      result.observe(requests, stats.requests, attributes);
      result.observe(queuePoints, queue.points, attributes);
      result.observe(queueBytes, queue.bytes, attributes);
      result.observe(capacity, queue.options.maxPoints, attributes);
      const state = source.breakerState;
      if (state) result.observe(breaker, BREAKER_VALUE[state], attributes);
      const storage = queue.storage;
      if (storage) {
        result.observe(storageRecords, storage.records, attributes);
        result.observe(storageBytes, storage.bytes, attributes);
        const age = storage.oldestAt === undefined ? 0 : (Date.now() - storage.oldestAt) / 1000;
        result.observe(oldestAge, Math.max(0, age), attributes);
        result.observe(replayed, storage.replayedPoints, attributes);
        result.observe(corrupt, storage.corruptRecords, attributes);
      }
    };
    meter.addBatchObservableCallback(callback, observables);
    this.#close = () => meter.removeBatchObservableCallback(callback, observables);
    this.#sendDuration = meter.createHistogram('sluice.exporter.send.duration', {
      description: 'Duration of send attempts',
      unit: 's',
    });
  }

  recordSend(seconds: number, outcome: 'success' | 'retryable' | 'permanent'): void {
    this.#sendDuration.record(seconds, { ...this.#attributes, outcome });
  }

  close(): void {
    this.#close();
  }
}
