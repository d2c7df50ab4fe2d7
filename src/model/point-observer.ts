import type { EncodedFormat } from './encoded-request.js';
import type { MetricBatch } from './metric-batch.js';

/**
 * Something that looks at what the receivers take (the collector's cardinality tracker):
 * each call reads its argument at once and keeps no reference to it.
 */
export interface PointObserver {
  /** A decoded batch, before the pipeline takes it. */
  observeBatch(batch: MetricBatch): void;
  /** A checked request body of `format` with `points` points. */
  observeRequest(format: EncodedFormat, body: Uint8Array, points: number): void;
}
