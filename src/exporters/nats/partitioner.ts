import { AttributeProjection } from '../../model/attribute-projection.js';
import { hashBytes, hashText } from '../../model/attribute-table.js';
import { eachKeyValueEntry } from '../../model/key-value-bytes.js';
import type { MetricBatch } from '../../model/metric-batch.js';

/**
 * What decides a point's partition:
 * - `series`: its whole series (metric name and every attribute) — the most even spread;
 * - `metric`: its metric name — every series of a metric in one partition;
 * - `{ attributes }`: its metric name and the values of these point attributes — the
 *   attributes a downstream `aggregate` keeps, so every input of one aggregated output series
 *   meets in one partition (partitioned by whole series, the inputs of one output land on
 *   different partitions and each aggregator emits a partial sum of the same output).
 */
export type PartitionBy = 'series' | 'metric' | { attributes: string[] };

/**
 * A point's partition, `hash mod partitions`. The hashes are fixed functions of the bytes
 * (no per-process seed): every gateway process must send a series to the same partition, and
 * so must the next version of sluice — the golden values in the partitioner's test pin them.
 */
export class Partitioner {
  readonly #partitions: number;
  readonly #by: PartitionBy;
  readonly #projection: AttributeProjection | undefined;

  constructor(partitions: number, by: PartitionBy) {
    this.#partitions = partitions;
    this.#by = by;
    this.#projection =
      typeof by === 'object' ? new AttributeProjection(by.attributes, true) : undefined;
  }

  /** The partition of each point of `batch`, by point index. */
  assign(batch: MetricBatch): Uint16Array {
    const partitionOf = new Uint16Array(batch.pointCount);
    const series = batch.points.series;
    const bySeries = new Int32Array(batch.seriesCount).fill(-1);
    const nameHash = batch.metrics.map((metric) => hashText(metric.name));
    for (let i = 0; i < batch.pointCount; i++) {
      const s = series[i];
      if (bySeries[s] === -1) bySeries[s] = this.#partitionOf(batch, s, nameHash);
      partitionOf[i] = bySeries[s];
    }
    return partitionOf;
  }

  #partitionOf(batch: MetricBatch, s: number, nameHash: number[]): number {
    let hash: number;
    if (this.#by === 'series') hash = batch.seriesHash(s);
    else {
      hash = nameHash[batch.seriesMetric(s)];
      if (this.#projection) {
        const kept = this.#projection.projectView(
          batch.attributes.bytes(batch.seriesAttributes(s)),
        );
        hash = Math.imul(hash ^ entriesHash(kept), 0x01000193);
      }
    }
    return (hash >>> 0) % this.#partitions;
  }
}

/**
 * A hash of the key-values of a set in wire form (entries tagged `0x0a`) that does not depend
 * on their order: two senders may list the same attributes in different orders.
 */
function entriesHash(bytes: Uint8Array): number {
  let sum = 0;
  eachKeyValueEntry(bytes, 0, bytes.length, (start, end) => {
    sum = (sum + hashBytes(bytes, start, end)) | 0;
  });
  return sum;
}
