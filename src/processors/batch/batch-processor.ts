import { BatchCopier } from '../../model/batch-copier.js';
import type { ComponentSettings, Consumer } from '../../model/consumer.js';
import { type EncodedPath, encodedPathThrough } from '../../model/encoded-request.js';
import { MetricBatch } from '../../model/metric-batch.js';
import type { Processor } from '../processor.js';
import { ScheduledEmitter } from '../scheduled-emitter.js';
import type { BatchConfig } from './config.js';

/** A caller of `consume` waiting for the flush that carries its points. */
interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Merges small batches into batches of `send_batch_size` points (at most
 * `send_batch_max_size`), or whatever arrived within `timeout`; shutdown flushes what is
 * buffered. `consume` resolves once the batch is buffered, and what the next component
 * refuses at a flush is counted and logged — unless an exporter downstream stores durably
 * (`durableDownstream`): then `consume` resolves only once the flush carrying its points was
 * accepted there, and a refusal goes back to the caller, so nothing acknowledged is held
 * only in this buffer when the process dies.
 */
export class BatchProcessor implements Processor {
  readonly id: string;
  readonly #config: BatchConfig;
  #pending: MetricBatch[] = [];
  #points = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #emitter: ScheduledEmitter;
  /** With a durable downstream: the callers whose points are in `#pending`. */
  readonly #waitForFlush: boolean;
  #waiters: Waiter[] = [];
  /**
   * Carries requests as bytes when every exporter after it does (a relay): the exporters'
   * queues join them into requests of up to their `batch.max_points` and `max_bytes`, byte for byte, which
   * is this processor's batching without decoding a point. Batches buffered here are sent
   * first, so a series' points keep their order.
   */
  readonly encoded?: EncodedPath;

  constructor(settings: ComponentSettings, config: BatchConfig, next: Consumer) {
    this.id = settings.id;
    this.#config = config;
    this.#emitter = new ScheduledEmitter(settings, next);
    this.#waitForFlush = settings.durableDownstream === true;
    this.encoded = encodedPathThrough(next, () => this.#flush(true));
  }

  /** Points the next component refused at a flush, by reason. */
  get dropped(): Record<string, number> {
    return this.#emitter.dropped;
  }

  async start(): Promise<void> {}

  async consume(batch: MetricBatch): Promise<void> {
    if (batch.pointCount === 0) return;
    if (!this.#waitForFlush) return this.#buffer(batch);
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#buffer(batch);
    });
  }

  #buffer(batch: MetricBatch): void {
    this.#pending.push(batch);
    this.#points += batch.pointCount;
    if (this.#points >= this.#config.send_batch_size) this.#flush(false);
    else this.#timer ??= setTimeout(() => this.#flush(true), this.#config.timeout);
  }

  async shutdown(): Promise<void> {
    this.#flush(true);
    await this.#emitter.settled();
  }

  /** Sends what is buffered; unless `all`, a remainder under `send_batch_size` stays buffered. */
  #flush(all: boolean): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const pending = this.#pending;
    this.#pending = [];
    this.#points = 0;
    const max = this.#config.send_batch_max_size;
    const out: MetricBatch[] = [];
    let copier: BatchCopier | undefined;
    for (const batch of pending) {
      if (pending.length === 1 && (max === 0 || batch.pointCount <= max)) {
        out.push(batch);
        break;
      }
      for (let start = 0; start < batch.pointCount; ) {
        copier ??= new BatchCopier(
          new MetricBatch({
            points: max || this.#config.send_batch_size,
            attributeBytes: (max || this.#config.send_batch_size) * 192,
          }),
        );
        const room = max === 0 ? batch.pointCount - start : max - copier.target.pointCount;
        const end = Math.min(batch.pointCount, start + room);
        copier.append(batch, start, end);
        start = end;
        if (max !== 0 && copier.target.pointCount >= max) {
          out.push(copier.target);
          copier = undefined;
        }
      }
    }
    if (copier && copier.target.pointCount > 0) out.push(copier.target);
    const waiters = this.#waiters;
    this.#waiters = [];
    let remainder: Promise<void> | undefined;
    const last = out.at(-1);
    if (!all && out.length > 1 && last && last.pointCount < this.#config.send_batch_size) {
      out.pop();
      this.#pending = [last];
      this.#points = last.pointCount;
      this.#timer = setTimeout(() => this.#flush(true), this.#config.timeout);
      // The callers of this flush also wait for the remainder's flush, through one waiter.
      if (waiters.length > 0)
        remainder = new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    }
    if (waiters.length === 0) {
      this.#emitter.emit(out);
      return;
    }
    const sent = this.#emitter.forward(out);
    (remainder ? Promise.all([sent, remainder]) : sent).then(
      () => {
        for (const waiter of waiters) waiter.resolve();
      },
      (error: Error) => {
        for (const waiter of waiters) waiter.reject(error);
      },
    );
  }
}
