import { z } from 'zod';
import { regexpsCompile } from '../metric-match.js';

export const attributeMatch = z.strictObject({
  key: z.string().min(1),
  value: z.union([z.string(), z.number(), z.boolean()]).optional(),
});

const matchProperties = z
  .strictObject({
    match_type: z.enum(['strict', 'regexp']).default('strict'),
    metric_names: z.array(z.string()).default([]),
    /** Resource attributes that must all match. */
    resource_attributes: z.array(attributeMatch).default([]),
    /** Point attributes that must all match (sluice). */
    attributes: z.array(attributeMatch).default([]),
  })
  .superRefine(regexpsCompile('metric_names'));

/** The Collector's `filter` processor (its `metrics.include` / `metrics.exclude` form). */
export const filterConfig = z.strictObject({
  metrics: z
    .strictObject({ include: matchProperties.optional(), exclude: matchProperties.optional() })
    .prefault({}),
});

export type FilterConfig = z.infer<typeof filterConfig>;
export type Match = z.infer<typeof matchProperties>;
export type AttributeMatch = z.infer<typeof attributeMatch>;
