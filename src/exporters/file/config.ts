import { z } from 'zod';
import { exporterHelperKeys } from '../helper/config.js';

/** `file`: the Collector's keys (`path`, `format: json`, `rotation`), plus sluice's `flat` format. */
export const fileConfig = z.strictObject({
  path: z.string().min(1, 'expected a file path'),
  format: z.enum(['json', 'flat']).default('json'),
  rotation: z
    .strictObject({
      max_megabytes: z.number().positive().default(100),
      max_backups: z.number().int().min(0).default(5),
    })
    .prefault({}),
  ...exporterHelperKeys,
});

export type FileConfig = z.infer<typeof fileConfig>;
