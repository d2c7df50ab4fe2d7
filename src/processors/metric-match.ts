import { z } from 'zod';

type MatchType = 'strict' | 'regexp';

/**
 * A `superRefine` check for a match rule: when `match_type` is `regexp`, every entry of
 * `match[key]` must compile, or the config is refused with the entry's path.
 */
export function regexpsCompile<K extends string>(key: K) {
  return (match: { match_type: MatchType } & Record<K, string[]>, context: z.RefinementCtx) => {
    if (match.match_type !== 'regexp') return;
    match[key].forEach((pattern, k) => {
      try {
        new RegExp(pattern);
      } catch (err) {
        context.addIssue({
          code: 'custom',
          path: [key, k],
          message: `not a regular expression: ${(err as Error).message}`,
        });
      }
    });
  };
}

/** Whether a name is one of `names` (strict) or matches one of them (regexp). */
export function nameMatcher(matchType: MatchType, names: string[]): (name: string) => boolean {
  if (matchType === 'strict') {
    const set = new Set(names);
    return (name) => set.has(name);
  }
  const patterns = names.map((p) => new RegExp(p));
  return (name) => patterns.some((p) => p.test(name));
}

/** `include` / `exclude` by metric name, strict or regexp (the Collector's shape). */
export const metricNameMatch = z
  .strictObject({
    match_type: z.enum(['strict', 'regexp']).default('strict'),
    metrics: z.array(z.string()).default([]),
  })
  .superRefine(regexpsCompile('metrics'));

export type MetricNameMatch = z.infer<typeof metricNameMatch>;

/** A predicate for metric names: in `include` (everything when absent) and not in `exclude`. */
export function nameFilter(
  include: MetricNameMatch | undefined,
  exclude: MetricNameMatch | undefined,
): (name: string) => boolean {
  const compile = (match: MetricNameMatch) => nameMatcher(match.match_type, match.metrics);
  const included = include && include.metrics.length > 0 ? compile(include) : () => true;
  const excluded = exclude && exclude.metrics.length > 0 ? compile(exclude) : () => false;
  return (name) => included(name) && !excluded(name);
}
