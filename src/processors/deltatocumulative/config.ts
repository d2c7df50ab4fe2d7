import { z } from 'zod';
import { duration } from '../../model/duration.js';

/** The Collector's `deltatocumulative` keys. */
export const deltaToCumulativeConfig = z.strictObject({
  /** Forget series not updated for this long; they restart from zero. */
  max_stale: duration.default(300_000),
  /** Most series tracked at once; points of new series beyond it are dropped and counted. */
  max_streams: z.number().int().min(1).default(Number.MAX_SAFE_INTEGER),
  /** A storage extension (`file_storage`): the totals are kept there and survive a restart. */
  storage: z.string().min(1).optional(),
});

export type DeltaToCumulativeConfig = z.infer<typeof deltaToCumulativeConfig>;
