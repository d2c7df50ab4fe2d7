import { z } from 'zod';
import { duration } from '../../model/duration.js';

/**
 * `file_storage`: the Collector's `directory` and `fsync`, with sluice's policy (`fsync:
 * always | interval | never`, `fsync_interval`) and bounds (`max_size_bytes` per queue,
 * `when_full`).
 */
export const fileStorageConfig = z.strictObject({
  directory: z.string().min(1, 'expected a directory path'),
  create_directory: z.boolean().default(true),
  fsync: z
    .union([z.boolean(), z.enum(['always', 'interval', 'never'])])
    // The Collector's `fsync: true` syncs every write.
    .transform((value) => (value === true ? 'always' : value === false ? 'interval' : value))
    .default('interval'),
  fsync_interval: duration.default(200).refine((ms) => ms >= 1 && ms <= 10_000, {
    message: 'expected a duration from 1ms to 10s',
  }),
  max_size_bytes: z
    .number()
    .int()
    .min(1024 * 1024, 'expected at least 1 MiB (1048576)')
    .default(1024 ** 3),
  when_full: z.enum(['block', 'drop_oldest', 'drop_newest']).default('block'),
});

export type FileStorageConfig = z.output<typeof fileStorageConfig>;
