import { z } from 'zod';
import type { DeliveryOptions } from '../../delivery/delivery-engine.js';
import { duration } from '../../model/duration.js';

/**
 * The exporterhelper blocks every queued exporter shares, with the OpenTelemetry Collector's
 * keys (`sending_queue`, `retry_on_failure`, `timeout`) plus sluice's own (`when_full`,
 * `batch`, `circuit_breaker`, `dead_letter_dir`).
 */
export const sendingQueueSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    num_consumers: z.number().int().min(1).default(4),
    /** How `queue_size` counts: data points (`items`), requests of `batch.max_points`, or encoded bytes. */
    sizer: z.enum(['items', 'requests', 'bytes']).default('items'),
    queue_size: z.number().int().min(1).default(1_000_000),
    block_on_overflow: z.boolean().default(false),
    when_full: z.enum(['block', 'drop_newest', 'reject']).optional(),
    block_timeout: duration.default(30_000),
    /** A storage extension (`file_storage`): the queue lives on disk there, to its policy. */
    storage: z.string().min(1).optional(),
    /**
     * `per_series`: a series' points reach the backend in order, whatever `num_consumers`
     * (backends that refuse out-of-order samples need it: Prometheus, Mimir). `none`: no
     * check, for backends that take samples in any order (VictoriaMetrics, InfluxDB): it is
     * about a tenth of a remote-write relay's CPU, a fifth of an OTLP relay's.
     */
    ordering: z.enum(['per_series', 'none']).default('per_series'),
  })
  .prefault({});

export const retrySchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    initial_interval: duration.default(5_000),
    randomization_factor: z.number().min(0).max(1).default(0.5),
    multiplier: z.number().min(1).default(1.5),
    max_interval: duration.default(30_000),
    max_elapsed_time: duration.default(300_000),
  })
  .prefault({});

export const batchSchema = z
  .strictObject({
    max_points: z.number().int().min(1).default(8192),
    max_bytes: z
      .number()
      .int()
      .min(1024)
      .default(3 * 1024 * 1024),
    flush_interval: duration.default(200),
  })
  .prefault({});

export const circuitBreakerSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    failure_threshold: z.number().int().min(1).default(5),
    reset_timeout: duration.default(30_000),
  })
  .prefault({});

export const exporterHelperKeys = {
  sending_queue: sendingQueueSchema,
  retry_on_failure: retrySchema,
  timeout: duration.default(5_000),
  batch: batchSchema,
  circuit_breaker: circuitBreakerSchema,
  dead_letter_dir: z.string().min(1).optional(),
};

export type ExporterHelperConfig = {
  sending_queue: z.infer<typeof sendingQueueSchema>;
  retry_on_failure: z.infer<typeof retrySchema>;
  timeout: number;
  batch: z.infer<typeof batchSchema>;
  circuit_breaker: z.infer<typeof circuitBreakerSchema>;
  dead_letter_dir?: string;
};

/** Maps the config blocks onto `DeliveryEngine` options. */
export function deliveryOptions(config: ExporterHelperConfig): Omit<DeliveryOptions, 'sender'> {
  const queue = config.sending_queue;
  const batch = config.batch;
  const size = queue.queue_size;
  return {
    numConsumers: queue.num_consumers,
    ordering: queue.ordering,
    queue: {
      maxPoints:
        queue.sizer === 'items'
          ? size
          : queue.sizer === 'requests'
            ? size * batch.max_points
            : Number.MAX_SAFE_INTEGER,
      maxBytes: queue.sizer === 'bytes' ? size : 1024 ** 4,
      whenFull: queue.when_full ?? (queue.block_on_overflow ? 'block' : 'reject'),
      blockTimeoutMs: queue.block_timeout,
    },
    batch: {
      maxPoints: batch.max_points,
      maxBytes: batch.max_bytes,
      flushIntervalMs: batch.flush_interval,
    },
    retry: {
      enabled: config.retry_on_failure.enabled,
      initialIntervalMs: config.retry_on_failure.initial_interval,
      randomizationFactor: config.retry_on_failure.randomization_factor,
      multiplier: config.retry_on_failure.multiplier,
      maxIntervalMs: config.retry_on_failure.max_interval,
      maxElapsedMs: config.retry_on_failure.max_elapsed_time,
    },
    timeoutMs: config.timeout,
    circuitBreaker: config.circuit_breaker.enabled
      ? {
          failureThreshold: config.circuit_breaker.failure_threshold,
          resetTimeoutMs: config.circuit_breaker.reset_timeout,
        }
      : false,
    deadLetterDir: config.dead_letter_dir,
  };
}
