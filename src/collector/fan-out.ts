import type { Logger } from 'pino';
import { BatchCopier } from '../model/batch-copier.js';
import { requestBytes } from '../model/byte-pool.js';
import type { Consumer } from '../model/consumer.js';
import type { EncodedFormat, EncodedPath } from '../model/encoded-request.js';
import type { MetricBatch } from '../model/metric-batch.js';
import type { PartitionChain, PartitionScope } from '../model/partition.js';

/** One target of a fan-out; `durable`: it stores what it accepts to outlive the process. */
export interface FanOutTarget {
  id: string;
  consumer: Consumer;
  durable?: boolean;
}

/**
 * Hands a batch to several consumers, each its own copy (ownership passes with `consume`),
 * so one slow or full exporter never stalls the others: each has its own queue. Resolves if
 * any consumer accepted; a consumer that refused is logged and counted in its own stats.
 * Rejects when all refused — or when a durable one did (a persistent queue full, a disk
 * full): a sender told "stored" must be able to count on it, so it is told to retry, and
 * the others may see the batch twice (at least once).
 */
export class FanOut implements Consumer {
  readonly #consumers: FanOutTarget[];
  readonly #logger: Logger;

  /**
   * Carries a request as bytes in the formats every target carries: the first target gets
   * the request, each other one a copy of its bytes — an exporter gives a request's bytes back
   * to the process's request buffers once sent, to be written over (`requestBytes`).
   */
  readonly encoded?: EncodedPath;
  /** Every target's `settled`, when every target has one. */
  readonly settled?: () => Promise<void>;
  /** Where a target opens chains for partitions: each such target's chain, the others as they are. */
  readonly openPartition?: (scope: PartitionScope) => Promise<PartitionChain>;

  constructor(consumers: FanOutTarget[], logger: Logger) {
    this.#consumers = consumers;
    this.#logger = logger;
    const paths = consumers.map((target) => target.consumer.encoded);
    const formats = paths.reduce<readonly EncodedFormat[]>(
      (common, path) => common.filter((format) => path?.formats.includes(format)),
      paths[0]?.formats ?? [],
    );
    if (consumers.every((target) => target.consumer.settled)) {
      this.settled = async () => {
        await Promise.all(consumers.map((target) => target.consumer.settled!()));
      };
    }
    if (consumers.some((target) => target.consumer.openPartition)) {
      this.openPartition = (scope) => this.#openPartition(scope);
    }
    if (formats.length > 0) {
      this.encoded = {
        formats,
        ordersBySeries: paths.some((path) => path?.ordersBySeries),
        gzip: paths.every((path) => path?.gzip === true),
        consume: (request) =>
          this.#deliver(request.points, (consumer, k) =>
            consumer.encoded!.consume(
              k === 0
                ? request
                : {
                    ...request,
                    bytes: requestBytes.copy(request.bytes),
                    gzipped: request.gzipped && requestBytes.copy(request.gzipped),
                  },
            ),
          ),
        refusing: () => this.#refusing(),
      };
    }
  }

  /**
   * What `#deliver` would reject any request with now: the refusal of every target, or of a
   * durable one (see the class comment); `undefined` when a request could go through.
   */
  #refusing(): Error | undefined {
    let first: Error | undefined;
    let all = true;
    for (const target of this.#consumers) {
      const refusal = target.consumer.encoded?.refusing?.();
      if (refusal && target.durable) return refusal;
      first ??= refusal;
      all &&= refusal !== undefined;
    }
    return all ? first : undefined;
  }

  async #openPartition(scope: PartitionScope): Promise<PartitionChain> {
    const chains: PartitionChain[] = [];
    const close = async (options: { deadlineMs: number }) => {
      for (const chain of chains) await chain.close(options);
    };
    try {
      for (const target of this.#consumers) {
        if (target.consumer.openPartition) chains.push(await target.consumer.openPartition(scope));
      }
    } catch (err) {
      await close({ deadlineMs: 5_000 }).catch(() => {});
      throw err;
    }
    let opened = 0;
    const targets = this.#consumers.map((target) =>
      target.consumer.openPartition ? { ...target, consumer: chains[opened++].consumer } : target,
    );
    return { consumer: new FanOut(targets, this.#logger), close };
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
    return this.#deliver(batch.pointCount, (consumer, k) => consumer.consume(copies[k]));
  }

  /** Hands `points` to every target through `hand`; see the class comment for what it resolves. */
  async #deliver(
    points: number,
    hand: (consumer: Consumer, k: number) => Promise<void>,
  ): Promise<void> {
    const targets = this.#consumers;
    if (targets.length === 1) return hand(targets[0].consumer, 0);
    const results = await Promise.allSettled(targets.map((t, k) => hand(t.consumer, k)));
    const failed = results.flatMap((r, k) =>
      r.status === 'rejected'
        ? [{ id: targets[k].id, error: r.reason as Error, durable: targets[k].durable }]
        : [],
    );
    if (failed.length === targets.length) throw failed[0].error;
    const durable = failed.find((f) => f.durable);
    if (durable) throw durable.error;
    for (const { id, error } of failed) {
      this.#logger.warn(
        { consumer: id, points, error: error.message },
        'one destination refused a batch the others accepted',
      );
    }
  }
}
