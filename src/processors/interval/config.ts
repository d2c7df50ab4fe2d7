import { z } from 'zod';
import { duration } from '../../model/duration.js';

/** The Collector's `interval` processor keys. */
export const intervalConfig = z.strictObject({ interval: duration.default(60_000) });
export type IntervalConfig = z.infer<typeof intervalConfig>;
