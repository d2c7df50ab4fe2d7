import { measureMetricsRequest, measurePointMessages } from '../codec/protobuf/encode-request.js';
import { BatchCopier } from '../model/batch-copier.js';
import type { MetricBatch } from '../model/metric-batch.js';

/** One request's worth cut off a batch: `count` points from `from`, measured at `bytes`. */
export interface BatchPart {
  batch: MetricBatch;
  count: number;
  bytes: number;
}

/**
 * Copies the largest part that fits the request limits off `batch` from point `from` (of
 * the `available` points left). The part is chosen by the sizes of its points (`pointBytes`,
 * from `measurePointMessages`), so a few huge histograms among small sums still give full
 * parts, then measured: a part is never over `maxBytes` unless it is a single point that is
 * (whoever sends it refuses that one instead).
 */
export function cutPart(
  batch: MetricBatch,
  from: number,
  available: number,
  pointBytes: Uint32Array,
  maxPoints: number,
  maxBytes: number,
): BatchPart {
  let count = 0;
  for (let sum = 0; count < available && count < maxPoints; count++) {
    sum += pointBytes[from + count];
    if (sum > maxBytes) break;
  }
  for (count = Math.max(1, count); ; ) {
    const copier = new BatchCopier();
    copier.append(batch, from, from + count);
    const part = copier.target;
    const bytes = measureMetricsRequest(part);
    if (bytes <= maxBytes || count === 1) return { batch: part, count, bytes };
    // Headers pushed it over: shrink by the excess (at least one point) and measure again.
    count = Math.max(1, Math.min(count - 1, Math.floor((count * maxBytes) / bytes)));
  }
}

/** `batch` as requests within the limits: itself when it fits, else parts cut in order. */
export function splitToLimits(
  batch: MetricBatch,
  maxPoints: number,
  maxBytes: number,
): BatchPart[] {
  const whole = measureMetricsRequest(batch);
  if (batch.pointCount <= maxPoints && whole <= maxBytes) {
    return [{ batch, count: batch.pointCount, bytes: whole }];
  }
  const sizes = measurePointMessages(batch);
  const parts: BatchPart[] = [];
  for (let from = 0; from < batch.pointCount; ) {
    const part = cutPart(batch, from, batch.pointCount - from, sizes, maxPoints, maxBytes);
    parts.push(part);
    from += part.count;
  }
  return parts;
}
