import { z } from 'zod';
import { duration } from '../../model/duration.js';

/** sluice's `cardinality_limit` processor. */
export const cardinalityLimitConfig = z.strictObject({
  /** Series per metric, the overflow series included (as the OTel SDK counts). */
  max_series: z.number().int().min(2).default(2000),
  /** How often the merged overflow series is emitted. */
  overflow_interval: duration.default(10_000),
});

export type CardinalityLimitConfig = z.infer<typeof cardinalityLimitConfig>;
