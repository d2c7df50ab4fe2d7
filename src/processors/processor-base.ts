import type { ComponentSettings, Consumer } from '../model/consumer.js';
import type { MetricBatch } from '../model/metric-batch.js';
import { countDrop, type Processor } from './processor.js';

/**
 * A processor that transforms each batch and hands the result on: `consume` resolves when
 * the next component accepted it, so backpressure and refusals reach the receiver.
 */
export abstract class TransformProcessor implements Processor {
  readonly id: string;
  readonly dropped: Record<string, number> = {};
  protected readonly settings: ComponentSettings;
  readonly #next: Consumer;

  constructor(settings: ComponentSettings, next: Consumer) {
    this.id = settings.id;
    this.settings = settings;
    this.#next = next;
  }

  async start(): Promise<void> {}

  async shutdown(): Promise<void> {}

  async consume(batch: MetricBatch): Promise<void> {
    const out = this.transform(batch);
    if (out.pointCount === 0 && batch.pointCount > 0) return;
    await this.#next.consume(out);
  }

  /** Returns the batch to pass on: `batch` itself when nothing changes. */
  protected abstract transform(batch: MetricBatch): MetricBatch;

  /** Counts points this processor does not pass on (returns undefined: "emit nothing"). */
  protected drop(reason: string, points = 1): undefined {
    countDrop(this.dropped, reason, points);
    return undefined;
  }
}
