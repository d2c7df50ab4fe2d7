import { z } from 'zod';
import { duration } from '../../model/duration.js';
import { metricNameMatch } from '../metric-match.js';

/** The Collector's `cumulativetodelta` keys. */
export const cumulativeToDeltaConfig = z.strictObject({
  include: metricNameMatch.optional(),
  exclude: metricNameMatch.optional(),
  /** First point of a series: `auto` keeps it when it started after this processor, `keep`, `drop`. */
  initial_value: z.enum(['auto', 'keep', 'drop']).default('auto'),
  /** Forget series not seen for this long (0: never). */
  max_staleness: duration.default(0),
});

export type CumulativeToDeltaConfig = z.infer<typeof cumulativeToDeltaConfig>;
