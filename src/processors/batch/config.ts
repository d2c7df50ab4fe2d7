import { z } from 'zod';
import { duration } from '../../model/duration.js';

/** The Collector's `batch` processor keys. */
export const batchConfig = z.strictObject({
  send_batch_size: z.number().int().min(1).default(8192),
  send_batch_max_size: z.number().int().min(0).default(0),
  timeout: duration.default(200),
});

export type BatchConfig = z.infer<typeof batchConfig>;
