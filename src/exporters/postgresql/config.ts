import { z } from 'zod';
import { certificateWithKey, clientTlsKeys } from '../../net/tls-config.js';
import { exporterHelperKeys } from '../helper/config.js';

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'expected a plain SQL identifier (letters, digits, _)');

/**
 * `postgresql`: `endpoint` (a postgres:// URL), where the rows go (`schema`, `points_table`,
 * `histograms_table`, created when missing unless `create_tables: false`), the pool size
 * (default: one connection per consumer), TLS, and the shared queue/retry/timeout blocks.
 */
export const postgresqlExporterConfig = z.strictObject({
  endpoint: z
    .string()
    .regex(
      /^postgres(ql)?:\/\//,
      'expected a postgres:// URL, e.g. postgres://user:pass@127.0.0.1:5432/metrics',
    ),
  schema: identifier.default('public'),
  points_table: identifier.default('metric_points'),
  histograms_table: identifier.default('metric_histograms'),
  create_tables: z.boolean().default(true),
  pool_size: z.number().int().min(1).optional(),
  // The shared client keys, plus `enabled` (the block's presence alone turns TLS on).
  tls: z
    .strictObject({ enabled: z.boolean().default(true), ...clientTlsKeys })
    .refine(...certificateWithKey)
    .optional(),
  ...exporterHelperKeys,
});

export type PostgresqlExporterConfig = z.infer<typeof postgresqlExporterConfig>;
