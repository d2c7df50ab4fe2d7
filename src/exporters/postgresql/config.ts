import { z } from 'zod';
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
  tls: z
    .strictObject({
      enabled: z.boolean().default(true),
      ca_file: z.string().optional(),
      cert_file: z.string().optional(),
      key_file: z.string().optional(),
      insecure_skip_verify: z.boolean().default(false),
    })
    .optional(),
  ...exporterHelperKeys,
});

export type PostgresqlExporterConfig = z.infer<typeof postgresqlExporterConfig>;
