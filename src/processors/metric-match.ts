import { z } from 'zod';

/** `include` / `exclude` by metric name, strict or regexp (the Collector's shape). */
export const metricNameMatch = z
  .strictObject({
    match_type: z.enum(['strict', 'regexp']).default('strict'),
    metrics: z.array(z.string()).default([]),
  })
  .superRefine((match, context) => {
    if (match.match_type !== 'regexp') return;
    match.metrics.forEach((pattern, k) => {
      try {
        new RegExp(pattern);
      } catch (err) {
        context.addIssue({
          code: 'custom',
          path: ['metrics', k],
          message: `not a regular expression: ${(err as Error).message}`,
        });
      }
    });
  });

export type MetricNameMatch = z.infer<typeof metricNameMatch>;

/** A predicate for metric names: in `include` (everything when absent) and not in `exclude`. */
export function nameFilter(
  include: MetricNameMatch | undefined,
  exclude: MetricNameMatch | undefined,
): (name: string) => boolean {
  const compile = (match: MetricNameMatch) => {
    if (match.match_type === 'strict') {
      const names = new Set(match.metrics);
      return (name: string) => names.has(name);
    }
    const patterns = match.metrics.map((p) => new RegExp(p));
    return (name: string) => patterns.some((p) => p.test(name));
  };
  const included = include && include.metrics.length > 0 ? compile(include) : () => true;
  const excluded = exclude && exclude.metrics.length > 0 ? compile(exclude) : () => false;
  return (name) => included(name) && !excluded(name);
}
