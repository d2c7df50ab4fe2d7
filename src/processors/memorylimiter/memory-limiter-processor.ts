import type { ComponentSettings, Consumer } from '../../model/consumer.js';
import { type EncodedPath, encodedPathThrough } from '../../model/encoded-request.js';
import { SluiceError } from '../../model/errors.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import type { Processor } from '../processor.js';
import type { MemoryLimiterConfig } from './config.js';

/** Data refused because the process is over its memory soft limit; senders should retry. */
export class MemoryLimitError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_MEMORY_LIMIT', message, { stack: false });
  }
}

/**
 * Refuses data while resident memory is above the soft limit (`limit_mib - spike_limit_mib`,
 * spike defaulting to 20 % of the limit), so receivers answer "retry later" instead of the
 * process growing until it is killed. Above the hard limit it also asks V8 for a collection
 * when `--expose-gc` is on. Refusals are counted in `refused` and logged on each transition.
 */
export class MemoryLimiterProcessor implements Processor {
  readonly id: string;
  refused = 0;
  /** Nothing: what it refuses, its receivers count (`sluice_receiver_refused_points_total`). */
  readonly dropped: Readonly<Record<string, number>> = {};
  readonly #next: Consumer;
  /** Carries requests as bytes while under the limit, when the next component does. */
  readonly encoded?: EncodedPath;
  readonly #settings: ComponentSettings;
  readonly #softBytes: number;
  readonly #hardBytes: number;
  readonly #intervalMs: number;
  readonly #readRss: () => number;
  #over = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    settings: ComponentSettings,
    config: MemoryLimiterConfig,
    next: Consumer,
    readRss: () => number = () => process.memoryUsage.rss(),
  ) {
    this.id = settings.id;
    this.#settings = settings;
    this.#next = next;
    this.encoded = encodedPathThrough(next, (request) => this.#admit(request.points));
    const limit = config.limit_mib! * 1024 * 1024;
    const spike = (config.spike_limit_mib ?? config.limit_mib! * 0.2) * 1024 * 1024;
    this.#hardBytes = limit;
    this.#softBytes = limit - spike;
    this.#intervalMs = config.check_interval;
    this.#readRss = readRss;
  }

  get overLimit(): boolean {
    return this.#over;
  }

  async start(): Promise<void> {
    this.check();
    this.#timer = setInterval(() => this.check(), this.#intervalMs);
    this.#timer.unref();
  }

  async shutdown(): Promise<void> {
    clearInterval(this.#timer);
  }

  /** Reads memory once (the timer calls it every `check_interval`). */
  check(): void {
    const rss = this.#readRss();
    const over = rss > this.#softBytes;
    if (over !== this.#over) {
      this.#over = over;
      const mib = Math.round(rss / 1024 / 1024);
      if (over)
        this.#settings.logger.warn(
          { processor: this.id, rssMiB: mib, softLimitMiB: Math.round(this.#softBytes / 1048576) },
          'memory above the soft limit: refusing data',
        );
      else
        this.#settings.logger.info(
          { processor: this.id, rssMiB: mib },
          'memory back under the soft limit: accepting data',
        );
    }
    if (rss > this.#hardBytes) (globalThis as { gc?: () => void }).gc?.();
  }

  /**
   * Passes the next processor's fast path through while under the limit; over it, says -1
   * (the body is decoded and `consume` refuses it, counted, as any batch).
   */
  consumeOtlpProtobuf(body: Uint8Array): number {
    if (this.#over) return -1;
    return this.#next.consumeOtlpProtobuf?.(body) ?? -1;
  }

  async consume(batch: MetricBatch): Promise<void> {
    this.#admit(batch.pointCount);
    await this.#next.consume(batch);
  }

  /** Throws `MemoryLimitError` (counting `points` refused) while over the soft limit. */
  #admit(points: number): void {
    if (!this.#over) return;
    this.refused += points;
    throw new MemoryLimitError(
      `memory_limiter ${this.id}: resident memory above the soft limit ${Math.round(this.#softBytes / 1048576)} MiB; retry later`,
    );
  }
}
