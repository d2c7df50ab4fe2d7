import { z } from 'zod';
import { duration } from '../../model/duration.js';

const rule = z
  .strictObject({
    /** Metric names or globs (`*` any run of characters, `?` one character). */
    metrics: z.array(z.string().min(1)).min(1, 'list at least one metric name or glob'),
    /** Keep only these attribute keys (everything else is aggregated away). */
    group_by: z.array(z.string()).optional(),
    /** Remove these attribute keys and aggregate over them. */
    drop_attributes: z.array(z.string()).optional(),
    /** How merged gauges combine within an interval. */
    gauge: z.enum(['last', 'mean']).default('last'),
  })
  .refine((r) => (r.group_by === undefined) !== (r.drop_attributes === undefined), {
    message: 'set exactly one of group_by or drop_attributes',
  });

/** sluice's `aggregate` processor. */
export const aggregateConfig = z.strictObject({
  interval: duration.default(10_000),
  /**
   * Input series silent this long are forgotten, and output series none of whose inputs
   * spoke this long stop being emitted: series churn does not grow memory for ever.
   */
  max_stale: duration.default(300_000),
  rules: z.array(rule).min(1, 'list at least one rule'),
  /** A storage extension (`file_storage`): the state is snapshotted there after each emit. */
  storage: z.string().min(1).optional(),
});

export type AggregateConfig = z.infer<typeof aggregateConfig>;
export type AggregateRule = z.infer<typeof rule>;

/** `http.server.*` → /^http\.server\..*$/ */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}
