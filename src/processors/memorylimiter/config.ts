import { z } from 'zod';
import { duration } from '../../model/duration.js';

/** The Collector's `memory_limiter` keys (sizes in MiB of resident memory). */
export const memoryLimiterConfig = z
  .strictObject({
    check_interval: duration.default(1_000),
    limit_mib: z.number().positive().optional(),
    spike_limit_mib: z.number().nonnegative().optional(),
  })
  .refine((c) => c.limit_mib !== undefined, {
    message: 'set limit_mib (the hard limit, in MiB)',
    path: ['limit_mib'],
  })
  .refine(
    (c) =>
      c.spike_limit_mib === undefined ||
      c.limit_mib === undefined ||
      c.spike_limit_mib < c.limit_mib,
    {
      message: 'spike_limit_mib must be below limit_mib',
      path: ['spike_limit_mib'],
    },
  );

export type MemoryLimiterConfig = z.infer<typeof memoryLimiterConfig>;
