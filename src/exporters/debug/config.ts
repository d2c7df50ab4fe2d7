import { z } from 'zod';
import { exporterHelperKeys } from '../helper/config.js';

/** `debug`: `basic` logs a summary per batch, `normal`/`detailed` print every point. */
export const debugConfig = z.strictObject({
  verbosity: z.enum(['basic', 'normal', 'detailed']).default('basic'),
  ...exporterHelperKeys,
});

export type DebugConfig = z.infer<typeof debugConfig>;
