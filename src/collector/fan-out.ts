import type { Logger } from 'pino';
import { BatchCopier } from '../model/batch-copier.js';
import type { Consumer } from '../model/consumer.js';
import type { MetricBatch } from '../model/metric-batch.js';

/**
 * Hands a batch to several consumers, each its own copy (ownership passes with `consume`),
 * so one slow or full exporter never stalls the others: each has its own queue. Resolves if
 * any consumer accepted; a consumer that refused is logged and counted in its own stats.
 * Rejects only when all refused, so the sender is told to retry.
 */
export class FanOut implements Consumer {
  readonly #consumers: { id: string; consumer: Consumer }[];
  readonly #logger: Logger;

  constructor(consumers: { id: string; consumer: Consumer }[], logger: Logger) {
    this.#consumers = consumers;
    this.#logger = logger;
  }

  /** The one consumer's fast path (with several, each needs its own copy: none). */
  consumeOtlpProtobuf(body: Uint8Array): number {
    const targets = this.#consumers;
    if (targets.length !== 1) return -1;
    return targets[0].consumer.consumeOtlpProtobuf?.(body) ?? -1;
  }

  async consume(batch: MetricBatch): Promise<void> {
    const targets = this.#consumers;
    if (targets.length === 1) return targets[0].consumer.consume(batch);
    const copies = targets.map((_, k) => {
      if (k === targets.length - 1) return batch;
      const copier = new BatchCopier();
      copier.append(batch);
      return copier.target;
    });
    const results = await Promise.allSettled(targets.map((t, k) => t.consumer.consume(copies[k])));
    const failed = results.flatMap((r, k) =>
      r.status === 'rejected' ? [{ id: targets[k].id, error: r.reason as Error }] : [],
    );
    if (failed.length === targets.length) throw failed[0].error;
    for (const { id, error } of failed) {
      this.#logger.warn(
        { consumer: id, points: batch.pointCount, error: error.message },
        'one destination refused a batch the others accepted',
      );
    }
  }
}
