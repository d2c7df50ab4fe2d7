import { z } from 'zod';
import { duration } from '../../model/duration.js';

/** The Collector's `interval` processor keys. */
export const intervalConfig = z.strictObject({
  interval: duration.default(60_000),
  /** A storage extension (`file_storage`): what is held until the next emit survives a restart. */
  storage: z.string().min(1).optional(),
});
export type IntervalConfig = z.infer<typeof intervalConfig>;
